package batchtest_test

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// TestBuildMatchesAnIndependentDecoder decodes uncompressed batches with franz-go's kmsg,
// an independent implementation of the wire format, so Build cannot drift from Kafka's.
func TestBuildMatchesAnIndependentDecoder(t *testing.T) {
	opts := batchtest.Options{
		BaseOffset: 10, PartitionLeaderEpoch: 2, ProducerID: 77, ProducerEpoch: 1,
		BaseSequence: 5, FirstTimestamp: 1_000_000, Control: true,
	}
	recs := []batchtest.Record{
		{Key: []byte("a"), Value: []byte("one"), TimestampDelta: 0},
		{Value: nil, TimestampDelta: 300, Headers: []batchtest.RecordHeader{{Key: "h", Value: []byte("v")}}},
	}
	b := batchtest.Build(opts, recs)

	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if kb.FirstOffset != 10 || kb.PartitionLeaderEpoch != 2 || kb.Magic != 2 || kb.ProducerID != 77 ||
		kb.ProducerEpoch != 1 || kb.FirstSequence != 5 || kb.NumRecords != 2 || kb.LastOffsetDelta != 1 ||
		kb.FirstTimestamp != 1_000_000 || kb.MaxTimestamp != 1_000_300 || kb.Attributes != int16(batch.AttrControl) ||
		int(kb.Length)+12 != len(b) {
		t.Fatalf("kmsg sees %+v", kb)
	}
	rest := kb.Records
	for i, want := range recs {
		var r kmsg.Record
		if err := r.ReadFrom(rest); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if int(r.OffsetDelta) != i || r.TimestampDelta64 != want.TimestampDelta ||
			!bytes.Equal(r.Key, want.Key) || (r.Key == nil) != (want.Key == nil) ||
			!bytes.Equal(r.Value, want.Value) || (r.Value == nil) != (want.Value == nil) ||
			len(r.Headers) != len(want.Headers) {
			t.Fatalf("record %d: kmsg sees %+v, built %+v", i, r, want)
		}
		rest = rest[len(r.AppendTo(nil)):]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left after the records", len(rest))
	}
}

// TestValidateAcceptsKmsgBatches goes the other way: a batch encoded by kmsg passes Validate.
func TestValidateAcceptsKmsgBatches(t *testing.T) {
	var records []byte
	for i := range 3 {
		r := kmsg.Record{OffsetDelta: int32(i), Key: []byte{byte(i)}, Value: []byte("value"),
			Headers: []kmsg.Header{{Key: "k", Value: []byte("v")}}}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the length varint of a short record is 1 byte
		records = r.AppendTo(records)
	}
	kb := kmsg.RecordBatch{
		FirstOffset: 0, Length: int32(49 + len(records)), PartitionLeaderEpoch: -1, Magic: 2,
		LastOffsetDelta: 2, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 3, Records: records,
	}
	b := kb.AppendTo(nil)
	copy(b[17:], be32(batch.Checksum(b)))
	if _, err := batch.Validate(b); err != nil {
		t.Fatalf("kmsg batch rejected: %v", err)
	}
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func TestDecodeRoundTripsEveryCodec(t *testing.T) {
	for _, codec := range []int8{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		opts := batchtest.DefaultOptions(42)
		opts.Codec = codec
		recs := batchtest.Values(50, 200)
		b := batchtest.Build(opts, recs)
		if codec != batch.CodecNone && len(b) >= 50*200 {
			t.Errorf("codec %d: %d bytes, not compressed", codec, len(b))
		}
		got, err := batchtest.DecodeAll(append(append([]byte{}, b...), b...))
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		if len(got) != 100 || !bytes.Equal(got[49].Value, recs[49].Value) || !bytes.Equal(got[50].Value, recs[0].Value) {
			t.Fatalf("codec %d: decoded %d records that differ from the built ones", codec, len(got))
		}
	}
}
