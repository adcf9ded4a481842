package batch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// RecordTimes walks the records of an uncompressed records section (a batch's bytes after
// HeaderSize, or a compressed batch's records once decompressed) and calls fn with each
// record's offset delta and timestamp delta until fn returns false. It reads only those
// two fields of each record.
func RecordTimes(recs []byte, fn func(offsetDelta int32, timestampDelta int64) bool) error {
	return eachRecord(recs, func(_ int, _ []byte, r *recordReader) (bool, error) {
		r.skip(1) // attributes
		tsDelta := r.varint()
		offDelta := r.varint()
		if !r.ok() {
			return false, nil
		}
		return fn(int32(offDelta), tsDelta), nil
	})
}

// eachRecord walks the records of an uncompressed records section: for each it checks the
// length prefix and calls fn with the record's index, its bytes (prefix included) and a
// reader over its body, which fn reads as far as it needs. A reader left failed is a
// malformed record; fn returns false to stop the walk early.
func eachRecord(recs []byte, fn func(i int, raw []byte, r *recordReader) (bool, error)) error {
	pos := 0
	for i := 0; pos < len(recs); i++ {
		length, k := binary.Varint(recs[pos:])
		if k <= 0 || length < 0 || length > int64(len(recs)-pos-k) {
			return fmt.Errorf("%w: record %d at byte %d: bad length", ErrInvalidRecord, i, pos)
		}
		end := pos + k + int(length)
		r := recordReader{b: recs[pos+k : end]}
		more, err := fn(i, recs[pos:end:end], &r)
		switch {
		case err != nil:
			return err
		case !r.ok():
			return fmt.Errorf("%w: record %d is malformed", ErrInvalidRecord, i)
		case !more:
			return nil
		}
		pos = end
	}
	return nil
}

// recordHeadMax is the most a record's length prefix leaves to read for its attributes
// (one byte), timestamp delta and offset delta (varints of at most ten bytes each).
const recordHeadMax = 1 + 2*binary.MaxVarintLen64

// ReadRecordTimes is RecordTimes over a records section read from r (a decompressing
// reader): it holds a few bytes of one record at a time, not the section, so walking a
// batch that inflates to gigabytes needs no more memory than a small one. An error of r
// other than a clean end between records is returned wrapped.
func ReadRecordTimes(r *bufio.Reader, fn func(offsetDelta int32, timestampDelta int64) bool) error {
	var head [recordHeadMax]byte
	for i := 0; ; i++ {
		length, err := readVarint(r)
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return readFailure(err, i, "length")
		case length < 0:
			return fmt.Errorf("%w: record %d: bad length", ErrInvalidRecord, i)
		}
		n := int(min(length, recordHeadMax))
		if _, err := io.ReadFull(r, head[:n]); err != nil {
			return readFailure(err, i, "fields")
		}
		rr := recordReader{b: head[:n]}
		rr.skip(1) // attributes
		tsDelta := rr.varint()
		offDelta := rr.varint()
		if !rr.ok() {
			return fmt.Errorf("%w: record %d is malformed", ErrInvalidRecord, i)
		}
		if !fn(int32(offDelta), tsDelta) {
			return nil
		}
		for rest := length - int64(n); rest > 0; {
			step := int(min(rest, 1<<30))
			if _, err := r.Discard(step); err != nil {
				return readFailure(err, i, "body")
			}
			rest -= int64(step)
		}
	}
}

// readVarint reads one zig-zag varint from r as binary.Varint decodes it from a slice (so
// the walk over a reader accepts exactly what RecordTimes does). A clean end before its
// first byte is io.EOF; one inside it, io.ErrUnexpectedEOF; an over-long varint,
// ErrInvalidRecord.
func readVarint(r *bufio.Reader) (int64, error) {
	var buf [binary.MaxVarintLen64]byte
	for n := 0; n < len(buf); n++ {
		c, err := r.ReadByte()
		switch {
		case err == io.EOF && n > 0:
			return 0, io.ErrUnexpectedEOF
		case err != nil:
			return 0, err
		}
		buf[n] = c
		if c < 0x80 {
			v, k := binary.Varint(buf[:n+1])
			if k <= 0 {
				return 0, fmt.Errorf("%w: varint overflows 64 bits", ErrInvalidRecord)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint longer than %d bytes", ErrInvalidRecord, binary.MaxVarintLen64)
}

// readFailure names where a record walk over a reader stopped: a record cut short is
// ErrInvalidRecord, as RecordTimes says of one overrunning its section; the reader's own
// failure (bad compressed data, a limit) is passed on.
func readFailure(err error, i int, what string) error {
	switch {
	case errors.Is(err, ErrInvalidRecord):
		return fmt.Errorf("record %d: its %s: %w", i, what, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: record %d: section ends inside its %s", ErrInvalidRecord, i, what)
	}
	return fmt.Errorf("record %d: read its %s: %w", i, what, err)
}

// FirstKeyless returns the index of the first record without a key (key length -1) in
// the uncompressed records section recs, or -1 when every record has one. Kafka refuses
// such records on a compacted topic: compaction keeps the newest record of each key, and
// a record without one could never be kept or removed by it.
func FirstKeyless(recs []byte) (int, error) {
	keyless := -1
	err := eachRecord(recs, func(i int, _ []byte, r *recordReader) (bool, error) {
		r.skip(1) // attributes
		r.varint()
		r.varint()
		if r.varint() < 0 && r.ok() {
			keyless = i
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	return keyless, nil
}
