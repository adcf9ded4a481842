package batch

import (
	"encoding/binary"
	"fmt"
)

// RecordTimes walks the records of an uncompressed records section (a batch's bytes after
// HeaderSize, or a compressed batch's records once decompressed) and calls fn with each
// record's offset delta and timestamp delta until fn returns false. It reads only those
// two fields of each record.
func RecordTimes(recs []byte, fn func(offsetDelta int32, timestampDelta int64) bool) error {
	pos := 0
	for i := 0; pos < len(recs); i++ {
		length, k := binary.Varint(recs[pos:])
		if k <= 0 || length < 0 || length > int64(len(recs)-pos-k) {
			return fmt.Errorf("%w: record %d at byte %d: bad length", ErrInvalidRecord, i, pos)
		}
		r := recordReader{b: recs[pos+k : pos+k+int(length)]}
		r.skip(1) // attributes
		tsDelta := r.varint()
		offDelta := r.varint()
		if !r.ok() {
			return fmt.Errorf("%w: record %d is malformed", ErrInvalidRecord, i)
		}
		if !fn(int32(offDelta), tsDelta) {
			return nil
		}
		pos += k + int(length)
	}
	return nil
}

// FirstKeyless returns the index of the first record without a key (key length -1) in
// the uncompressed records section recs, or -1 when every record has one. Kafka refuses
// such records on a compacted topic: compaction keeps the newest record of each key, and
// a record without one could never be kept or removed by it.
func FirstKeyless(recs []byte) (int, error) {
	pos := 0
	for i := 0; pos < len(recs); i++ {
		length, k := binary.Varint(recs[pos:])
		if k <= 0 || length < 0 || length > int64(len(recs)-pos-k) {
			return 0, fmt.Errorf("%w: record %d at byte %d: bad length", ErrInvalidRecord, i, pos)
		}
		r := recordReader{b: recs[pos+k : pos+k+int(length)]}
		r.skip(1) // attributes
		r.varint()
		r.varint()
		keyLength := r.varint()
		if !r.ok() {
			return 0, fmt.Errorf("%w: record %d is malformed", ErrInvalidRecord, i)
		}
		if keyLength < 0 {
			return i, nil
		}
		pos += k + int(length)
	}
	return -1, nil
}
