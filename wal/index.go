package wal

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// indexEntry says: the batch starting at byte pos of the segment has base offset
// segment base + rel. On disk it is 8 bytes: rel uint32, pos uint32, big-endian.
type indexEntry struct {
	rel uint32
	pos uint32
}

const indexEntrySize = 8

// offsetIndex is a segment's sparse offset index, ascending in both rel and pos. It lives in
// memory (8 bytes per IndexIntervalBytes of data) and is written to disk when the segment
// is sealed, so a restart need not rescan sealed segments.
type offsetIndex []indexEntry

// lookup returns the position of the last indexed batch whose base is at or before rel,
// from where a short scan finds the batch holding rel; 0 when no entry qualifies.
func (x offsetIndex) lookup(rel uint32) int64 {
	i := sort.Search(len(x), func(i int) bool { return x[i].rel > rel })
	if i == 0 {
		return 0
	}
	return int64(x[i-1].pos)
}

func (x offsetIndex) encode() []byte {
	b := make([]byte, 0, len(x)*indexEntrySize)
	for _, e := range x {
		b = binary.BigEndian.AppendUint32(b, e.rel)
		b = binary.BigEndian.AppendUint32(b, e.pos)
	}
	return b
}

// decodeOffsetIndex parses an index file of a segment holding size bytes and offsets up to
// base+maxRel, rejecting anything a correct writer could not have produced.
func decodeOffsetIndex(b []byte, size int64, maxRel uint32) (offsetIndex, error) {
	if len(b)%indexEntrySize != 0 {
		return nil, fmt.Errorf("offset index of %d bytes is not a whole number of entries", len(b))
	}
	x := make(offsetIndex, len(b)/indexEntrySize)
	for i := range x {
		e := indexEntry{
			rel: binary.BigEndian.Uint32(b[i*indexEntrySize:]),
			pos: binary.BigEndian.Uint32(b[i*indexEntrySize+4:]),
		}
		if e.rel > maxRel || int64(e.pos) >= size {
			return nil, fmt.Errorf("offset index entry %d (%d, %d) beyond the segment", i, e.rel, e.pos)
		}
		if i > 0 && (e.rel <= x[i-1].rel || e.pos <= x[i-1].pos) {
			return nil, fmt.Errorf("offset index entry %d is not ascending", i)
		}
		x[i] = e
	}
	return x, nil
}
