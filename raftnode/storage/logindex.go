package storage

import (
	"sort"

	"go.etcd.io/raft/v3/raftpb"
)

// termRuns records the term of every entry in the log as runs of equal terms. Terms
// change only on elections, so this stays a handful of runs however long the log is,
// and Term never has to touch the disk.
type termRuns []termRun

// termRun says: entries from start up to the next run's start have this term.
type termRun struct{ start, term uint64 }

// termAt returns the term of entry i; the caller has checked that i is in the log.
func (r termRuns) termAt(i uint64) uint64 {
	k := sort.Search(len(r), func(k int) bool { return r[k].start > i })
	return r[k-1].term
}

// add records entry (index, term), which directly follows the last recorded entry.
func (r *termRuns) add(index, term uint64) {
	if n := len(*r); n > 0 && (*r)[n-1].term == term {
		return
	}
	*r = append(*r, termRun{start: index, term: term})
}

// truncateFrom forgets entries at index >= i.
func (r *termRuns) truncateFrom(i uint64) {
	k := sort.Search(len(*r), func(k int) bool { return (*r)[k].start >= i })
	*r = (*r)[:k]
}

// compactThrough forgets entries at index <= i, last being the log's last index.
func (r *termRuns) compactThrough(i, last uint64) {
	if i >= last {
		*r = nil
		return
	}
	// Drop runs that end at or before i: those whose successor starts at or before i+1.
	k := sort.Search(len(*r), func(k int) bool { return (*r)[k].start > i+1 })
	if k > 0 {
		k-- // run k-1 contains i+1
	}
	*r = (*r)[k:]
	(*r)[0].start = max((*r)[0].start, i+1)
}

// tailCache holds the newest entries of the log, so the common reads (replicating to
// followers that are nearly caught up, applying just-committed entries) need no
// transaction. It is always a suffix of the log: consecutive, ending at the last index.
type tailCache struct {
	ents       []cachedEntry
	bytes      int64
	maxEntries int
	maxBytes   int64
}

type cachedEntry struct {
	e    *raftpb.Entry
	size int // protobuf-encoded size, what Entries' maxSize counts
}

// first returns the index of the oldest cached entry; ok is false when the cache is empty.
func (c *tailCache) first() (uint64, bool) {
	if len(c.ents) == 0 {
		return 0, false
	}
	return c.ents[0].e.GetIndex(), true
}

// get returns entries [lo, hi) limited by maxSize if all of them are cached (hi > lo).
// The result is freshly allocated: the caller may append to it.
func (c *tailCache) get(lo, hi, maxSize uint64) ([]*raftpb.Entry, bool) {
	first, ok := c.first()
	if !ok || lo < first {
		return nil, false
	}
	window := c.ents[lo-first : hi-first]
	n := limitBySize(len(window), func(k int) uint64 { return uint64(window[k].size) }, maxSize)
	out := make([]*raftpb.Entry, n)
	for k := range out {
		out[k] = window[k].e
	}
	return out, true
}

// truncateFrom forgets entries at index >= i.
func (c *tailCache) truncateFrom(i uint64) {
	first, ok := c.first()
	if !ok {
		return
	}
	keep := int(max(i, first) - first)
	if keep >= len(c.ents) {
		return
	}
	for k := keep; k < len(c.ents); k++ {
		c.bytes -= int64(c.ents[k].size)
		c.ents[k] = cachedEntry{}
	}
	c.ents = c.ents[:keep]
}

// add appends entry e (the new last entry of the log) and evicts the oldest entries
// beyond the limits.
func (c *tailCache) add(e *raftpb.Entry, size int) {
	c.ents = append(c.ents, cachedEntry{e: e, size: size})
	c.bytes += int64(size)
	drop := 0
	for drop < len(c.ents) && (len(c.ents)-drop > c.maxEntries || c.bytes > c.maxBytes) {
		c.bytes -= int64(c.ents[drop].size)
		c.ents[drop] = cachedEntry{} // let the entry be collected
		drop++
	}
	c.ents = c.ents[drop:]
}

// compactThrough forgets entries at index <= i.
func (c *tailCache) compactThrough(i uint64) {
	first, ok := c.first()
	if !ok || i < first {
		return
	}
	drop := min(int(i-first+1), len(c.ents))
	for k := range drop {
		c.bytes -= int64(c.ents[k].size)
		c.ents[k] = cachedEntry{}
	}
	c.ents = c.ents[drop:]
}

func (c *tailCache) reset() {
	c.ents = nil
	c.bytes = 0
}
