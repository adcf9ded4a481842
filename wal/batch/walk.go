package batch

import (
	"encoding/binary"
)

// Record is one record of an uncompressed records section, as the log cleaner sees it.
// Key and Raw alias the section.
type Record struct {
	Raw            []byte // the whole record, its length prefix included
	OffsetDelta    int32
	TimestampDelta int64
	Key            []byte // nil when the key is null
	Value          []byte // nil when the value is null
	NullValue      bool   // a tombstone
}

// WalkRecords calls fn with each record of the uncompressed records section recs, in
// order, until fn returns false. A record that does not parse is ErrInvalidRecord.
func WalkRecords(recs []byte, fn func(r Record) bool) error {
	return eachRecord(recs, func(_ int, raw []byte, r *recordReader) (bool, error) {
		r.skip(1) // attributes
		tsDelta := r.varint()
		offDelta := r.varint()
		var key []byte
		if n := r.varint(); r.ok() && n >= 0 {
			at := r.pos
			r.skip(int(min(n, int64(len(r.b)+1))))
			if r.ok() {
				key = r.b[at:r.pos:r.pos]
			}
		}
		valueLen := r.varint()
		var value []byte
		if r.ok() && valueLen >= 0 {
			at := r.pos
			r.skip(int(min(valueLen, int64(len(r.b)+1))))
			if r.ok() {
				value = r.b[at:r.pos:r.pos]
			}
		}
		if !r.ok() {
			return false, nil // eachRecord reports it
		}
		return fn(Record{Raw: raw, OffsetDelta: int32(offDelta), TimestampDelta: tsDelta, Key: key, Value: value, NullValue: valueLen < 0}), nil
	})
}

// SetRecordCount overwrites the record count and max timestamp of the batch at the start
// of b, which must hold at least HeaderSize bytes. Both lie inside the CRC: the caller
// reseals b afterwards (Reseal).
func SetRecordCount(b []byte, n int32, maxTimestamp int64) {
	binary.BigEndian.PutUint32(b[offNumRecords:], uint32(n))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(maxTimestamp))
}
