package wal

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// timeEntry says: up to and including the batch whose last offset is segment base + rel,
// no batch of the segment has a max timestamp above ts. On disk it is 12 bytes: ts int64,
// rel uint32, big-endian. Entries are added alongside offset index entries when the
// segment's max timestamp has grown, plus a final one when the segment is sealed, so the
// last entry of a sealed segment holds its newest timestamp.
type timeEntry struct {
	ts  int64
	rel uint32
}

const timeEntrySize = 12

// timeIndex is a segment's sparse time index, strictly ascending in ts.
type timeIndex []timeEntry

// lookupBefore returns the last entry whose timestamp is below ts: every batch up to its
// offset is older than ts, so a search for ts can start after it.
func (x timeIndex) lookupBefore(ts int64) (timeEntry, bool) {
	i := sort.Search(len(x), func(i int) bool { return x[i].ts >= ts })
	if i == 0 {
		return timeEntry{}, false
	}
	return x[i-1], true
}

func (x timeIndex) encode() []byte {
	b := make([]byte, 0, len(x)*timeEntrySize)
	for _, e := range x {
		b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
		b = binary.BigEndian.AppendUint32(b, e.rel)
	}
	return b
}

// decodeTimeIndex parses a time index file of a segment holding offsets up to base+maxRel.
func decodeTimeIndex(b []byte, maxRel uint32) (timeIndex, error) {
	if len(b)%timeEntrySize != 0 {
		return nil, fmt.Errorf("time index of %d bytes is not a whole number of entries", len(b))
	}
	x := make(timeIndex, len(b)/timeEntrySize)
	for i := range x {
		e := timeEntry{
			ts:  int64(binary.BigEndian.Uint64(b[i*timeEntrySize:])),
			rel: binary.BigEndian.Uint32(b[i*timeEntrySize+8:]),
		}
		if e.ts < 0 || e.rel > maxRel {
			return nil, fmt.Errorf("time index entry %d (%d, %d) out of range", i, e.ts, e.rel)
		}
		if i > 0 && (e.ts <= x[i-1].ts || e.rel < x[i-1].rel) {
			return nil, fmt.Errorf("time index entry %d is not ascending", i)
		}
		x[i] = e
	}
	return x, nil
}
