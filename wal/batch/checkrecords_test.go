package batch_test

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// requireSameVerdict fails t unless the fast record walk accepts recs exactly when the
// reference walk does, and checkRecords (what Validate runs) returns the reference walk's
// error word for word. It reports whether recs was accepted.
func requireSameVerdict(t *testing.T, recs []byte, n int32) bool {
	t.Helper()
	ref := batch.CheckRecordsReference(recs, n)
	if fast := batch.RecordsWellFormed(recs, n); fast != (ref == nil) {
		t.Fatalf("n=%d recs=%x: fast walk accepts=%v, reference walk says %v", n, recs, fast, ref)
	}
	got := batch.CheckRecords(recs, n)
	if (got == nil) != (ref == nil) || (got != nil && got.Error() != ref.Error()) {
		t.Fatalf("n=%d recs=%x: checkRecords says %v, reference walk %v", n, recs, got, ref)
	}
	if ref != nil && !errors.Is(ref, batch.ErrInvalidRecord) {
		t.Fatalf("n=%d recs=%x: error %v does not wrap ErrInvalidRecord", n, recs, ref)
	}
	return ref == nil
}

// FuzzCheckRecords holds the fast record walk to the reference walk on arbitrary records
// sections and record counts. Seeds live in testdata/fuzz/FuzzCheckRecords.
func FuzzCheckRecords(f *testing.F) {
	f.Fuzz(func(t *testing.T, recs []byte, n int32) {
		requireSameVerdict(t, recs, n)
	})
}

// varietyRecords exercises every field and varint width the fast walk decodes differently:
// keys, null keys and values, headers (with a null value and an empty key), one-, two- and
// ten-byte varints, negative timestamp deltas.
func varietyRecords() []batchtest.Record {
	return []batchtest.Record{
		{Key: []byte("k"), Value: []byte("v"), TimestampDelta: 0},
		{Value: nil, TimestampDelta: -1},
		{Key: []byte{}, Value: make([]byte, 70), TimestampDelta: 1 << 40},
		{Value: []byte("hv"), TimestampDelta: math.MinInt64, Headers: []batchtest.RecordHeader{
			{Key: "h", Value: []byte("x")}, {Key: "", Value: nil},
		}},
	}
}

// recordsOf builds recs as an uncompressed batch and returns its records section.
func recordsOf(recs []batchtest.Record) []byte {
	return batchtest.Build(batchtest.DefaultOptions(0), recs)[batch.HeaderSize:]
}

// TestWalksAgreeOnMutatedRecords replays, in every test run, the kind of damage the fuzzer
// explores: every byte of a varied records section replaced by values that flip varint
// continuation bits, signs and lengths, a byte inserted or removed anywhere, every
// truncation, and wrong record counts.
func TestWalksAgreeOnMutatedRecords(t *testing.T) {
	good := recordsOf(varietyRecords())
	const n = 4
	if !requireSameVerdict(t, good, n) {
		t.Fatal("valid records rejected")
	}
	accepted, rejected := 0, 0
	tally := func(ok bool) {
		if ok {
			accepted++
		} else {
			rejected++
		}
	}
	for _, count := range []int32{math.MinInt32, -1, 0, 1, n - 1, n + 1, math.MaxInt32} {
		tally(requireSameVerdict(t, good, count))
	}
	for cut := range len(good) {
		tally(requireSameVerdict(t, good[:cut], n))
	}
	for pos := range good {
		orig := good[pos]
		for _, v := range []byte{0x00, 0x01, 0x02, 0x03, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, orig + 1, orig - 1, orig + 2, orig - 2} {
			b := append([]byte{}, good...)
			b[pos] = v
			tally(requireSameVerdict(t, b, n))
		}
		tally(requireSameVerdict(t, append(append([]byte{}, good[:pos]...), good[pos+1:]...), n))
		for _, v := range []byte{0x00, 0x01, 0x80} {
			tally(requireSameVerdict(t, append(append(append([]byte{}, good[:pos]...), v), good[pos:]...), n))
		}
	}
	// Both outcomes must have happened, or the mutations tested nothing.
	if accepted == 0 || rejected == 0 {
		t.Fatalf("mutations accepted %d, rejected %d: want some of each", accepted, rejected)
	}
}

// TestWalksAgreeOnVarintEncodings puts every shape of varint, valid or not, in the
// timestampDelta field (which takes any value) of a lone record: the two walks must agree
// with binary.Varint on which encodings are varints.
func TestWalksAgreeOnVarintEncodings(t *testing.T) {
	encodings := [][]byte{
		{0x00}, {0x7f}, // one byte
		{0x80, 0x00}, {0xff, 0x7f}, // two bytes, the first non-minimal
		{0x80, 0x80, 0x01}, {0xff, 0xff, 0x7f}, // three
		binary.AppendVarint(nil, math.MaxInt64), binary.AppendVarint(nil, math.MinInt64), // ten
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},       // ten bytes, non-minimal zero
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},       // overflows 64 bits
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, // eleven bytes
		{0x80}, {0xff, 0xff}, // no final byte
	}
	for _, enc := range encodings {
		body := append([]byte{0}, enc...)           // attributes, timestampDelta
		body = append(body, 0x00, 0x01, 0x01, 0x00) // offset delta 0, null key and value, no headers
		recs := append(binary.AppendVarint(nil, int64(len(body))), body...)
		_, k := binary.Varint(enc)
		if got := requireSameVerdict(t, recs, 1); got != (k == len(enc)) {
			t.Errorf("timestampDelta %x: accepted=%v, binary.Varint reads %d of %d bytes", enc, got, k, len(enc))
		}
	}
}

// TestValidateAcceptsLongVarints covers the fields that outgrow two-byte varints in real
// batches: offset deltas of 8192 and more, values of 8 KiB and more, large timestamp deltas.
func TestValidateAcceptsLongVarints(t *testing.T) {
	recs := batchtest.Values(9000, 1)
	recs[100].Value = make([]byte, 10_000)
	recs[200].TimestampDelta = 1 << 50
	recs[8999].Value = make([]byte, 1<<21)
	b := batchtest.Build(batchtest.DefaultOptions(0), recs)
	if !batch.RecordsWellFormed(b[batch.HeaderSize:], 9000) {
		t.Fatal("fast walk rejects valid records with long varints")
	}
	if h, err := batch.Validate(b); err != nil || h.NumRecords != 9000 {
		t.Fatalf("Validate: %d records, %v", h.NumRecords, err)
	}
}

// TestValidateRecordErrorMessages pins the error text for each way records can be malformed:
// the fast walk must not change what a producer is told.
func TestValidateRecordErrorMessages(t *testing.T) {
	noHeaders := binary.AppendVarint(nil, 0)
	good := recordsOf(batchtest.Values(2, 3))
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"fewer records than declared", rawBatch(3, good),
			"invalid record: batch declares 3 records, holds 2"},
		{"more records than declared", rawBatch(1, good),
			"invalid record: 10 bytes after the 1 declared records"},
		{"negative record length", rawBatch(1, binary.AppendVarint(nil, -2)),
			"invalid record: record 0 at byte 0: bad length"},
		{"record length beyond batch", rawBatch(2, append(record(0, -1, -1, noHeaders...), binary.AppendVarint(nil, 100)...)),
			"invalid record: record 1 at byte 7: bad length"},
		{"overlong record length varint", rawBatch(1, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}),
			"invalid record: record 0 at byte 0: bad length"},
		{"empty record body", rawBatch(1, binary.AppendVarint(nil, 0)),
			"invalid record: record 0 is malformed at byte 0"},
		{"offset delta out of order", rawBatch(2, append(record(0, -1, -1, noHeaders...), record(5, -1, -1, noHeaders...)...)),
			"invalid record: record 1 has offset delta 5"},
		{"negative key length", rawBatch(1, record(0, -2, -1, noHeaders...)),
			"invalid record: record 0 is malformed at byte 4"},
		{"value longer than record", rawBatch(1, record(0, -1, 50, noHeaders...)),
			"invalid record: record 0 is malformed at byte 5"},
		{"negative header count", rawBatch(1, record(0, -1, -1, binary.AppendVarint(nil, -1)...)),
			"invalid record: record 0 has -1 headers"},
		{"more headers than bytes", rawBatch(1, record(0, -1, -1, binary.AppendVarint(nil, 7)...)),
			"invalid record: record 0 has 7 headers"},
		{"null header key", rawBatch(1, record(0, -1, -1, 0x02, 0x01, 0x01)),
			"invalid record: record 0 is malformed at byte 7"},
		{"header missing its value", rawBatch(1, record(0, -1, -1, 0x02, 0x02, 'h')),
			"invalid record: record 0 is malformed at byte 8"},
		{"trailing bytes in record", rawBatch(1, record(0, -1, -1, 0, 0, 0)),
			"invalid record: record 0 has 2 trailing bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := batch.Validate(tt.b)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate: got %v, want %q", err, tt.want)
			}
			if !errors.Is(err, batch.ErrInvalidRecord) {
				t.Fatalf("%v does not wrap ErrInvalidRecord", err)
			}
		})
	}
}
