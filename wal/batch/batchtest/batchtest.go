// Package batchtest builds and decodes real Kafka v2 record batches, compressed with every
// codec Kafka clients use, for tests of the broker: unit tests of the log and end-to-end
// tests alike. It is test support, and its codecs are the tests' reference, independent of
// the broker's own decompression (package codec).
package batchtest

import (
	"encoding/binary"
	"fmt"

	"github.com/chronik/chronik-node/wal/batch"
)

// RecordHeader is one record header; a nil Value is a null value.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Record is one record of a batch. nil Key or Value encode as null (a nil Value is a
// tombstone); TimestampDelta is added to the batch's FirstTimestamp.
type Record struct {
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
	TimestampDelta int64
}

// Options are the batch-level fields. Start from DefaultOptions: its zero producer fields
// are Kafka's "no producer" values, which the zero Options value is not.
type Options struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Codec                int8 // batch.CodecNone ... batch.CodecZstd
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	FirstTimestamp       int64
	// MaxTimestamp overrides the max timestamp derived from the records when non-zero.
	MaxTimestamp  int64
	LogAppendTime bool
	Transactional bool
	Control       bool
}

// DefaultOptions is an uncompressed, non-idempotent batch with timestamps starting at ts.
func DefaultOptions(ts int64) Options {
	return Options{
		PartitionLeaderEpoch: -1,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		BaseSequence:         -1,
		FirstTimestamp:       ts,
	}
}

// Values returns n records whose values are size bytes, distinct per record, with null keys
// and timestamp deltas 0..n-1.
func Values(n, size int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		recs[i] = Record{Value: v, TimestampDelta: int64(i)}
	}
	return recs
}

// Build encodes records as one v2 batch with a correct CRC. It builds whatever it is asked
// for, including batches Validate rejects (zero records, say), so tests can make bad input.
// It panics only on an unknown codec, which is a bug in the calling test.
func Build(opts Options, records []Record) []byte {
	var body []byte
	maxDelta := int64(0)
	for i, r := range records {
		body = appendRecord(body, i, r)
		maxDelta = max(maxDelta, r.TimestampDelta)
	}
	body, err := Compress(opts.Codec, body)
	if err != nil {
		panic(fmt.Sprintf("batchtest: %v", err))
	}

	b := make([]byte, batch.HeaderSize, batch.HeaderSize+len(body))
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(opts.BaseOffset))
	be.PutUint32(b[8:], uint32(batch.HeaderSize-12+len(body)))
	be.PutUint32(b[12:], uint32(opts.PartitionLeaderEpoch))
	b[16] = 2
	be.PutUint16(b[21:], uint16(attributes(opts)))
	be.PutUint32(b[23:], uint32(len(records)-1))
	be.PutUint64(b[27:], uint64(opts.FirstTimestamp))
	maxTS := opts.FirstTimestamp + maxDelta
	if opts.MaxTimestamp != 0 {
		maxTS = opts.MaxTimestamp
	}
	be.PutUint64(b[35:], uint64(maxTS))
	be.PutUint64(b[43:], uint64(opts.ProducerID))
	be.PutUint16(b[51:], uint16(opts.ProducerEpoch))
	be.PutUint32(b[53:], uint32(opts.BaseSequence))
	be.PutUint32(b[57:], uint32(len(records)))
	b = append(b, body...)
	be.PutUint32(b[17:], batch.Checksum(b))
	return b
}

func attributes(o Options) int16 {
	a := int16(o.Codec)
	if o.LogAppendTime {
		a |= batch.AttrLogAppendTime
	}
	if o.Transactional {
		a |= batch.AttrTransactional
	}
	if o.Control {
		a |= batch.AttrControl
	}
	return a
}

func appendRecord(dst []byte, i int, r Record) []byte {
	var body []byte
	body = append(body, 0) // attributes
	body = binary.AppendVarint(body, r.TimestampDelta)
	body = binary.AppendVarint(body, int64(i))
	body = appendNullable(body, r.Key)
	body = appendNullable(body, r.Value)
	body = binary.AppendVarint(body, int64(len(r.Headers)))
	for _, h := range r.Headers {
		body = binary.AppendVarint(body, int64(len(h.Key)))
		body = append(body, h.Key...)
		body = appendNullable(body, h.Value)
	}
	dst = binary.AppendVarint(dst, int64(len(body)))
	return append(dst, body...)
}

func appendNullable(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}
