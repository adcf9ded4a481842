package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Sentinel errors; every error returned by this package wraps exactly one of them, so the
// broker can map it to a Kafka error code with errors.Is.
var (
	// ErrCorrupt: the bytes are not a well-formed batch (bad length, CRC, codec or framing).
	// Kafka code CORRUPT_MESSAGE.
	ErrCorrupt = errors.New("corrupt record batch")
	// ErrUnsupportedMagic: a message set in the legacy formats (magic 0 or 1).
	// Kafka code UNSUPPORTED_FOR_MESSAGE_FORMAT.
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
	h, err := checkFrame(b)
	if err != nil {
		return Header{}, err
	}
	if c := h.Compression(); c > CodecZstd {
		return Header{}, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, c)
	}
	if h.NumRecords < 1 {
		return Header{}, fmt.Errorf("%w: batch declares %d records", ErrInvalidRecord, h.NumRecords)
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return Header{}, fmt.Errorf("%w: last offset delta %d with %d records", ErrInvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	if h.Compression() == CodecNone {
		if err := checkRecords(b[HeaderSize:], h.NumRecords); err != nil {
			return Header{}, err
		}
	}
	return h, nil
}

// checkRecords walks n uncompressed records that must fill recs exactly.
func checkRecords(recs []byte, n int32) error {
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
