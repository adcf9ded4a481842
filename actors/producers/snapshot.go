package producers

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Snapshot layout, version 1, all integers big-endian:
//
//	magic      [4]byte "CKPS"
//	version    uint16  (1)
//	offset     int64   log offset the snapshot is valid up to (exclusive)
//	count      uint32  number of producers
//	count × producer, in strictly increasing id order:
//	  id          int64
//	  epoch       int16
//	  lastWriteMs int64
//	  nbatches    uint8 (≤ RetainedBatches)
//	  nbatches × batch, oldest first:
//	    firstSeq int32, lastSeq int32, baseOffset int64, lastOffset int64, maxTimestamp int64
//	crc        uint32  CRC-32C of every preceding byte
//
// The encoding is canonical: one State has exactly one encoding, which lets
// the fuzz test demand that decode→encode reproduces its input.
const (
	snapshotMagic   = "CKPS"
	snapshotVersion = 1

	headerSize   = 4 + 2 + 8 + 4
	producerSize = 8 + 2 + 8 + 1
	batchSize    = 4 + 4 + 8 + 8 + 8
	crcSize      = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalSnapshot encodes s, stamped with offset (the next log offset the
// state does not yet cover). Equal states give equal bytes.
func (s *State) MarshalSnapshot(offset int64) []byte {
	ids := s.sortedIDs()
	size := headerSize + crcSize + len(ids)*producerSize
	for _, e := range s.producers {
		size += int(e.n) * batchSize
	}
	buf := make([]byte, 0, size)
	buf = append(buf, snapshotMagic...)
	buf = binary.BigEndian.AppendUint16(buf, snapshotVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(offset))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(ids)))
	for _, id := range ids {
		e := s.producers[id]
		buf = binary.BigEndian.AppendUint64(buf, uint64(id))
		buf = binary.BigEndian.AppendUint16(buf, uint16(e.epoch))
		buf = binary.BigEndian.AppendUint64(buf, uint64(e.lastWriteMs))
		buf = append(buf, e.n)
		for i := 0; i < int(e.n); i++ {
			m := e.at(i)
			buf = binary.BigEndian.AppendUint32(buf, uint32(m.FirstSeq))
			buf = binary.BigEndian.AppendUint32(buf, uint32(m.LastSeq))
			buf = binary.BigEndian.AppendUint64(buf, uint64(m.BaseOffset))
			buf = binary.BigEndian.AppendUint64(buf, uint64(m.LastOffset))
			buf = binary.BigEndian.AppendUint64(buf, uint64(m.MaxTimestamp))
		}
	}
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

// UnmarshalSnapshot decodes a snapshot written by MarshalSnapshot and returns
// the state and the offset it was stamped with. Any damage (checksum,
// truncation, unknown version, malformed content) yields an error wrapping
// ErrCorruptSnapshot.
func UnmarshalSnapshot(data []byte) (*State, int64, error) {
	if len(data) < headerSize+crcSize {
		return nil, 0, corrupt("%d bytes is shorter than the %d-byte minimum", len(data), headerSize+crcSize)
	}
	if string(data[:4]) != snapshotMagic {
		return nil, 0, corrupt("bad magic %q", data[:4])
	}
	if v := binary.BigEndian.Uint16(data[4:]); v != snapshotVersion {
		return nil, 0, corrupt("unsupported version %d (want %d)", v, snapshotVersion)
	}
	body, sum := data[:len(data)-crcSize], binary.BigEndian.Uint32(data[len(data)-crcSize:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, 0, corrupt("checksum %08x, stored %08x", got, sum)
	}

	// The length check above guarantees the rest of the header is present.
	d := decoder{buf: body[6:]}
	offset := int64(d.u64())
	count := d.u32()
	// Bound count by the bytes present before allocating for it.
	if uint64(count) > uint64(len(d.buf))/producerSize {
		return nil, 0, corrupt("%d producers cannot fit in %d bytes", count, len(d.buf))
	}
	s := &State{producers: make(map[int64]*entry, count)}
	prev := int64(-1)
	for i := uint32(0); i < count; i++ {
		id := int64(d.u64())
		e := &entry{epoch: int16(d.u16()), lastWriteMs: int64(d.u64()), n: d.u8()}
		if d.short {
			return nil, 0, corrupt("producer %d of %d truncated", i, count)
		}
		if id <= prev {
			return nil, 0, corrupt("producer id %d after %d: ids must be non-negative and increasing", id, prev)
		}
		prev = id
		if e.n > RetainedBatches {
			return nil, 0, corrupt("producer %d has %d batches, at most %d allowed", id, e.n, RetainedBatches)
		}
		for j := 0; j < int(e.n); j++ {
			e.batches[j] = BatchMeta{
				FirstSeq:     int32(d.u32()),
				LastSeq:      int32(d.u32()),
				BaseOffset:   int64(d.u64()),
				LastOffset:   int64(d.u64()),
				MaxTimestamp: int64(d.u64()),
			}
		}
		if d.short {
			return nil, 0, corrupt("batches of producer %d truncated", id)
		}
		s.producers[id] = e
	}
	if len(d.buf) != 0 {
		return nil, 0, corrupt("%d unexpected trailing bytes", len(d.buf))
	}
	return s, offset, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("decode producer snapshot: %w: "+format, append([]any{ErrCorruptSnapshot}, args...)...)
}

// decoder reads big-endian integers; reading past the end yields zeros and
// sets short, so callers check once per record instead of per field.
type decoder struct {
	buf   []byte
	short bool
}

func (d *decoder) take(n int) []byte {
	if len(d.buf) < n {
		d.short = true
		d.buf = nil
		return make([]byte, n)
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) u8() uint8   { return d.take(1)[0] }
func (d *decoder) u16() uint16 { return binary.BigEndian.Uint16(d.take(2)) }
func (d *decoder) u32() uint32 { return binary.BigEndian.Uint32(d.take(4)) }
func (d *decoder) u64() uint64 { return binary.BigEndian.Uint64(d.take(8)) }
