package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Sentinel errors; every error returned by this package wraps exactly one of them, so the
// broker can map it to a Kafka error code with errors.Is.
var (
	// ErrCorrupt: the bytes are not a well-formed batch (bad length, CRC, codec or framing).
	// Kafka code CORRUPT_MESSAGE.
	ErrCorrupt = errors.New("corrupt record batch")
	// ErrUnsupportedMagic: a message set in the legacy formats (magic 0 or 1). Kafka
	// code INVALID_RECORD when a Produce v3+ request carries it.
	ErrUnsupportedMagic = errors.New("unsupported message format (magic 0/1)")
	// ErrInvalidRecord: the batch checksums fine but its records contradict the header
	// (count, offset deltas, malformed record fields). Kafka code INVALID_RECORD.
	ErrInvalidRecord = errors.New("invalid record")
)

// magicV2 is the only message format the broker stores.
const magicV2 = 2

// castagnoli is the CRC-32C table; it is computed once and only read afterwards.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// CheckIntegrity checks what a stored batch must satisfy without looking at its records:
// b is exactly one batch, its magic is 2, its CRC matches and its last offset delta is not
// negative. Followers and crash recovery use it: the records were validated by the leader.
func CheckIntegrity(b []byte) (Header, error) {
	h, err := checkFrame(b)
	if err != nil {
		return Header{}, err
	}
	if h.LastOffsetDelta < 0 {
		return Header{}, fmt.Errorf("%w: negative last offset delta %d", ErrCorrupt, h.LastOffsetDelta)
	}
	return h, nil
}

// checkFrame checks magic, length and CRC.
func checkFrame(b []byte) (Header, error) {
	if len(b) > offMagic {
		switch m := int8(b[offMagic]); m {
		case 0, 1:
			return Header{}, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, m)
		case magicV2:
		default:
			return Header{}, fmt.Errorf("%w: unknown magic %d", ErrCorrupt, m)
		}
	}
	h, err := ParseHeader(b)
	if err != nil {
		return Header{}, err
	}
	if h.BatchLength < HeaderSize-lengthFieldEnd || h.Size() != len(b) {
		return Header{}, fmt.Errorf("%w: batch length %d does not match %d bytes", ErrCorrupt, h.BatchLength, len(b))
	}
	if got := Checksum(b); got != h.CRC {
		return Header{}, fmt.Errorf("%w: crc32c %08x, header says %08x", ErrCorrupt, got, h.CRC)
	}
	return h, nil
}

// Validate checks b, which must be exactly one batch as a producer sent it: framing, magic,
// CRC, codec, record count against the last offset delta and, for uncompressed batches,
// every record's structure. Compressed batches are not decompressed.
func Validate(b []byte) (Header, error) {
	h, _, err := ValidateProduced(b)
	return h, err
}

// TimeSpan is the span of a batch's record timestamps: for an uncompressed batch, read
// from its records; for a compressed one, ValidateProduced gives the header's first and max
// timestamps, taken on trust, and ValidateRecords on the decompressed records the real span.
type TimeSpan struct{ Oldest, Newest int64 }

// ValidateProduced is Validate that also returns the span of the records' timestamps.
// Kafka takes a CreateTime batch's max timestamp, and checks timestamp bounds, on its
// records, and producers have been seen to understate the max in the header (kafkajs,
// when some messages carry a timestamp and others do not). It costs nothing over
// Validate: the record walk reads every timestamp delta anyway.
func ValidateProduced(b []byte) (Header, TimeSpan, error) {
	h, err := checkFrame(b)
	if err != nil {
		return Header{}, TimeSpan{}, err
	}
	if c := h.Compression(); c > CodecZstd {
		return Header{}, TimeSpan{}, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, c)
	}
	if h.NumRecords < 1 {
		return Header{}, TimeSpan{}, fmt.Errorf("%w: batch declares %d records", ErrInvalidRecord, h.NumRecords)
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return Header{}, TimeSpan{}, fmt.Errorf("%w: last offset delta %d with %d records", ErrInvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	times := TimeSpan{Oldest: h.FirstTimestamp, Newest: h.MaxTimestamp}
	if h.Compression() == CodecNone {
		if times, err = ValidateRecords(h, b[HeaderSize:]); err != nil {
			return Header{}, TimeSpan{}, err
		}
	}
	return h, times, nil
}

// ValidateRecords checks a batch's records section (decompressed, for a compressed batch)
// against its header h: exactly h.NumRecords well-formed records with offset deltas 0, 1,
// 2, ... filling recs, and returns the span of their timestamps. Errors wrap
// ErrInvalidRecord.
func ValidateRecords(h Header, recs []byte) (TimeSpan, error) {
	span, err := checkRecords(recs, h.NumRecords)
	if err != nil {
		return TimeSpan{}, err
	}
	return TimeSpan{Oldest: h.FirstTimestamp + span.min, Newest: max(-1, h.FirstTimestamp+span.max)}, nil
}

// deltaSpan is the smallest and largest timestamp delta of a records section.
type deltaSpan struct{ min, max int64 }

// checkRecords walks n uncompressed records that must fill recs exactly. It runs on every
// produced batch, so it first tries recordsWellFormed, a fast walk that only says yes or no;
// only when that says no does it walk again with checkRecordsReference, which names the fault.
// Both walks accept exactly the same inputs (FuzzCheckRecords holds them to that), so the
// reference walk's verdict is final either way.
func checkRecords(recs []byte, n int32) (deltaSpan, error) {
	if span, ok := recordsWellFormed(recs, n); ok {
		return span, nil
	}
	if err := checkRecordsReference(recs, n); err != nil {
		return deltaSpan{}, err
	}
	// The two walks disagree, which FuzzCheckRecords exists to rule out; trust the
	// reference, and read the timestamps the slow way.
	span := deltaSpan{min: math.MaxInt64, max: math.MinInt64}
	_ = RecordTimes(recs, func(_ int32, d int64) bool {
		span.min, span.max = min(span.min, d), max(span.max, d)
		return true
	})
	return span, nil
}

// checkRecordsReference is the plain, field-by-field record walk: the definition of what a
// well-formed records section is, and the source of the error messages. It is too slow for
// every produced batch (a method call and a binary.Varint call per field); recordsWellFormed
// is the fast twin that must accept exactly what this accepts.
func checkRecordsReference(recs []byte, n int32) error {
	pos := 0
	for i := int32(0); i < n; i++ {
		if pos == len(recs) {
			return fmt.Errorf("%w: batch declares %d records, holds %d", ErrInvalidRecord, n, i)
		}
		length, k := binary.Varint(recs[pos:])
		if k <= 0 || length < 0 || length > int64(len(recs)-pos-k) {
			return fmt.Errorf("%w: record %d at byte %d: bad length", ErrInvalidRecord, i, pos)
		}
		start := pos + k
		if err := checkRecord(recs[start:start+int(length)], i); err != nil {
			return err
		}
		pos = start + int(length)
	}
	if pos != len(recs) {
		return fmt.Errorf("%w: %d bytes after the %d declared records", ErrInvalidRecord, len(recs)-pos, n)
	}
	return nil
}

// checkRecord checks the body of record i (everything after its length varint).
func checkRecord(body []byte, i int32) error {
	r := recordReader{b: body}
	r.skip(1) // attributes: unused in v2
	r.varint()
	if delta := r.varint(); r.ok() && delta != int64(i) {
		return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, delta)
	}
	r.bytesField(true) // key
	r.bytesField(true) // value
	headers := r.varint()
	if r.ok() && (headers < 0 || headers > int64(len(body))) {
		return fmt.Errorf("%w: record %d has %d headers", ErrInvalidRecord, i, headers)
	}
	for j := int64(0); j < headers && r.ok(); j++ {
		r.bytesField(false) // header key: never null
		r.bytesField(true)  // header value
	}
	if !r.ok() {
		return fmt.Errorf("%w: record %d is malformed at byte %d", ErrInvalidRecord, i, r.pos)
	}
	if r.pos != len(body) {
		return fmt.Errorf("%w: record %d has %d trailing bytes", ErrInvalidRecord, i, len(body)-r.pos)
	}
	return nil
}

// recordReader reads record fields and remembers the first failure, so a record is checked
// as a straight sequence of reads followed by one ok() test.
type recordReader struct {
	b      []byte
	pos    int
	failed bool
}

func (r *recordReader) ok() bool { return !r.failed }

func (r *recordReader) skip(n int) {
	if r.failed || n < 0 || n > len(r.b)-r.pos {
		r.failed = true
		return
	}
	r.pos += n
}

func (r *recordReader) varint() int64 {
	if r.failed {
		return 0
	}
	v, k := binary.Varint(r.b[r.pos:])
	if k <= 0 {
		r.failed = true
		return 0
	}
	r.pos += k
	return v
}

// bytesField skips a varint-length-prefixed byte string; length -1 means null.
func (r *recordReader) bytesField(nullable bool) {
	n := r.varint()
	switch {
	case r.failed:
	case n == -1 && nullable:
	case n < 0 || n > int64(len(r.b)-r.pos):
		r.failed = true
	default:
		r.pos += int(n)
	}
}

// recordsWellFormed reports whether recs holds exactly n well-formed records, by the same
// rules as checkRecordsReference but without saying what is wrong, and returns the span of
// their timestamp deltas. It is the hot path of
// Validate (one pass over every produced byte), so it avoids what made the reference walk
// slow, a method call and a non-inlined binary.Varint call per field: it is one loop that
// decodes one- and two-byte varints (nearly every field of a record under 8 KiB) inline with
// shortUvarint and calls uvarintAt only for longer ones. Records with headers, rare in
// practice, are finished by skipHeaders.
//
// It undoes the zigzag encoding only for the timestamp delta: every check is made on the raw
// unsigned value, where zigzag(v) is 2v for v >= 0 and 2|v|-1 (odd) for v < 0. So a length is valid when its raw
// value is even and half of it fits, a null is raw 1, and offset delta i is raw 2i.
//
// Positions in a record are relative to its body (the bytes after its length varint) and
// every read is bounded by the body's end. Both decoders fail (return -1) at any position
// outside their slice, including the -1 of an earlier failure, so a failed read may be
// followed by others and caught by one check further on.
func recordsWellFormed(recs []byte, n int32) (deltaSpan, bool) {
	pos := 0
	span := deltaSpan{min: math.MaxInt64, max: math.MinInt64}
	for i := int32(0); i < n; i++ {
		// Running out of bytes before n records makes the decode fail.
		length, next := shortUvarint(recs, pos)
		if next < 0 {
			length, next = uvarintAt(recs, pos)
		}
		if next < 0 || length&1 != 0 || length>>1 > uint64(len(recs)-next) {
			return deltaSpan{}, false
		}
		pos = next + int(length>>1)
		body := recs[next:pos]

		// body[0] is the attributes byte: unused in v2, but it must be there. Starting at
		// 1 makes the timestampDelta read fail on an empty body.
		ts, p := shortUvarint(body, 1) // timestampDelta: any value
		if p < 0 {
			ts, p = uvarintAt(body, 1)
		}
		d := int64(ts>>1) ^ -int64(ts&1) // zigzag
		span.min, span.max = min(span.min, d), max(span.max, d)
		delta, q := shortUvarint(body, p)
		if q < 0 {
			delta, q = uvarintAt(body, p)
		}
		if q < 0 || delta != uint64(i)<<1 {
			return deltaSpan{}, false
		}
		p = q
		for range 2 { // key, then value: nullable byte strings
			size, start := shortUvarint(body, p)
			if start < 0 {
				size, start = uvarintAt(body, p)
			}
			if size == rawNull || start < 0 {
				p = start
				continue
			}
			if size&1 != 0 || size>>1 > uint64(len(body)-start) {
				return deltaSpan{}, false
			}
			p = start + int(size>>1)
		}
		headers, q := shortUvarint(body, p)
		if q < 0 {
			headers, q = uvarintAt(body, p)
		}
		if headers != 0 {
			q = skipHeaders(body, q, headers)
		}
		// No trailing bytes; q < 0 (a failed read) fails here too.
		if q != len(body) {
			return deltaSpan{}, false
		}
	}
	return span, pos == len(recs)
}

// rawNull is the raw varint of a null byte string: zigzag(-1).
const rawNull = 1

// skipHeaders returns the position after the headers of a record body that start at pos,
// given their count as a raw (zigzag) varint, or -1 if any is malformed or pos is -1. The
// count is valid from 0 to len(body), as in checkRecord; a header key is never null, a
// header value may be.
func skipHeaders(body []byte, pos int, rawCount uint64) int {
	if pos < 0 || rawCount&1 != 0 || rawCount>>1 > uint64(len(body)) {
		return -1
	}
	for range rawCount >> 1 {
		key, p := uvarintAt(body, pos)
		if p < 0 || key&1 != 0 || key>>1 > uint64(len(body)-p) {
			return -1
		}
		pos = p + int(key>>1)
		value, p := uvarintAt(body, pos)
		if value == rawNull || p < 0 {
			pos = p
			continue
		}
		if value&1 != 0 || value>>1 > uint64(len(body)-p) {
			return -1
		}
		pos = p + int(value>>1)
	}
	return pos
}

// shortUvarint decodes a one- or two-byte unsigned varint at b[pos:] and returns it with the
// position after it, or -1 as the position if there is none there (a longer or truncated
// varint, or pos outside b). It is small enough for the compiler to inline; a caller retries
// a failure with uvarintAt.
func shortUvarint(b []byte, pos int) (uint64, int) {
	if uint(pos) < uint(len(b)) {
		c := b[pos]
		if c < 0x80 {
			return uint64(c), pos + 1
		}
		if uint(pos+1) < uint(len(b)) && b[pos+1] < 0x80 {
			return uint64(c&0x7f) | uint64(b[pos+1])<<7, pos + 2
		}
	}
	return 0, -1
}

// uvarintAt decodes the unsigned varint at b[pos:] by exactly binary.Uvarint's rules (at most
// 10 bytes, the 10th at most 1, so the value fits 64 bits) and returns it with the position
// after it, or -1 as the position if there is no valid varint there or pos is outside b.
// binary.Varint is binary.Uvarint followed by zigzag decoding, so a field binary.Varint
// accepts is exactly one this accepts.
func uvarintAt(b []byte, pos int) (uint64, int) {
	if pos < 0 || pos > len(b) {
		return 0, -1
	}
	v, k := binary.Uvarint(b[pos:])
	if k <= 0 {
		return 0, -1
	}
	return v, pos + k
}
