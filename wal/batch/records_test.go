package batch_test

import (
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

func TestRecordTimes(t *testing.T) {
	recs := []batchtest.Record{{Value: []byte("a"), TimestampDelta: 0}, {Value: []byte("b"), TimestampDelta: 30}, {Value: []byte("c"), TimestampDelta: 10}}
	b := batchtest.Build(batchtest.DefaultOptions(1000), recs)
	var offs []int32
	var tss []int64
	if err := batch.RecordTimes(b[batch.HeaderSize:], func(off int32, ts int64) bool {
		offs, tss = append(offs, off), append(tss, ts)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(offs) != 3 || offs[2] != 2 || tss[1] != 30 || tss[2] != 10 {
		t.Fatalf("offsets %v timestamps %v", offs, tss)
	}
	stops := 0
	batch.RecordTimes(b[batch.HeaderSize:], func(int32, int64) bool { stops++; return false })
	if stops != 1 {
		t.Fatalf("fn called %d times after returning false", stops)
	}
	if err := batch.RecordTimes([]byte{0x7f, 1, 2}, func(int32, int64) bool { return true }); err == nil {
		t.Fatal("garbage records walked without error")
	}
}

// A producer's header can understate its newest record (kafkajs does, when some messages
// carry a timestamp and others do not): the records say what the newest timestamp is.
func TestMaxRecordTimestampReadsTheRecords(t *testing.T) {
	recs := []batchtest.Record{{Value: []byte("a"), TimestampDelta: 0}, {Value: []byte("b"), TimestampDelta: 60000}, {Value: []byte("c"), TimestampDelta: 5}}
	opts := batchtest.DefaultOptions(1000)
	opts.MaxTimestamp = 1000 // what the producer claimed
	b := batchtest.Build(opts, recs)
	got, err := batch.MaxRecordTimestamp(b[batch.HeaderSize:], 1000)
	if err != nil || got != 61000 {
		t.Fatalf("max record timestamp %d, %v; want 61000", got, err)
	}
	if _, err := batch.MaxRecordTimestamp([]byte{0x7f, 1, 2}, 0); err == nil {
		t.Fatal("garbage records walked without error")
	}
}

// Validation reads the span of the records' timestamps in the same walk that checks them:
// the broker stamps the batch's max timestamp and checks the topic's timestamp bounds on
// it, whatever the header claims. A compressed batch is not decompressed for it; its
// header is taken on trust.
func TestValidateProducedReadsRecordTimes(t *testing.T) {
	recs := []batchtest.Record{{Value: []byte("a"), TimestampDelta: 0}, {Value: []byte("b"), TimestampDelta: 60000}, {Value: []byte("c"), TimestampDelta: -5}}
	opts := batchtest.DefaultOptions(1000)
	opts.MaxTimestamp = 1000 // what the producer claimed
	_, times, err := batch.ValidateProduced(batchtest.Build(opts, recs))
	if err != nil || times != (batch.TimeSpan{Oldest: 995, Newest: 61000}) {
		t.Fatalf("uncompressed: %+v, %v; want oldest 995, newest 61000", times, err)
	}
	opts.Codec = batch.CodecGzip
	_, times, err = batch.ValidateProduced(batchtest.Build(opts, recs))
	if err != nil || times != (batch.TimeSpan{Oldest: 1000, Newest: 1000}) {
		t.Fatalf("compressed: %+v, %v; want the header's 1000 and 1000", times, err)
	}
}

func TestSetCreateTime(t *testing.T) {
	opts := batchtest.DefaultOptions(1000)
	opts.MaxTimestamp = 1000
	b := batchtest.Build(opts, batchtest.Values(3, 4))
	if !batch.SetCreateTime(b, 1002) {
		t.Fatal("an understated max timestamp was left alone")
	}
	h, err := batch.Validate(b)
	if err != nil || h.MaxTimestamp != 1002 || h.LogAppendTime() {
		t.Fatalf("after SetCreateTime: %+v, %v", h, err)
	}
	before := string(b)
	if batch.SetCreateTime(b, 1002) || string(b) != before {
		t.Fatal("a correct header was rewritten")
	}
	// A client may not claim LogAppendTime on a CreateTime topic: the bit goes.
	opts.LogAppendTime, opts.MaxTimestamp = true, 0
	b = batchtest.Build(opts, batchtest.Values(3, 4))
	if !batch.SetCreateTime(b, 1002) {
		t.Fatal("the LogAppendTime bit was left set")
	}
	if h, err := batch.Validate(b); err != nil || h.LogAppendTime() || h.MaxTimestamp != 1002 {
		t.Fatalf("after clearing LogAppendTime: %+v, %v", h, err)
	}
}

func TestFirstKeyless(t *testing.T) {
	keyed := batchtest.Record{Key: []byte("k"), Value: []byte("v")}
	keyless := batchtest.Record{Value: []byte("v")}
	for _, c := range []struct {
		recs []batchtest.Record
		want int
	}{
		{[]batchtest.Record{keyed, keyed}, -1},
		{[]batchtest.Record{keyless}, 0},
		{[]batchtest.Record{keyed, keyed, keyless, keyed}, 2},
		{[]batchtest.Record{{Key: []byte{}, Value: []byte("v")}}, -1}, // empty is a key; null is not
	} {
		b := batchtest.Build(batchtest.DefaultOptions(0), c.recs)
		if got, err := batch.FirstKeyless(b[batch.HeaderSize:]); err != nil || got != c.want {
			t.Errorf("%d records: first keyless %d, %v; want %d", len(c.recs), got, err, c.want)
		}
	}
	if _, err := batch.FirstKeyless([]byte{0x7f, 1, 2}); err == nil {
		t.Fatal("garbage records walked without error")
	}
}
