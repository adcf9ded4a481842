package wal

import (
	"container/list"
	"fmt"
	"os"
	"sync"
)

// IndexCache bounds the memory that sealed segments' indexes take, across every log that
// shares it. An index costs 8 bytes per index.interval.bytes (4 KiB) of log and its time
// index up to 16 more: a node keeping 100 GB of small batches held ~400 MB of them on
// its heap, for segments that are rarely read. Once a sealed segment's index files are on
// disk its indexes live here: the least recently used beyond the bound are dropped, and
// read back from their files when a read needs them again. The active segment's indexes,
// which every append extends, stay with the segment.
type IndexCache struct {
	max int64 // bytes; 0: no bound

	mu    sync.Mutex
	lru   list.List // *segment whose indexes are loaded, most recently used first
	bytes int64
}

// NewIndexCache returns a cache holding at most maxBytes of sealed segments' indexes
// (one larger than that is still held while it is the only one); maxBytes <= 0 means no
// bound.
func NewIndexCache(maxBytes int64) *IndexCache { return &IndexCache{max: maxBytes} }

// Bytes returns the memory the cached indexes take.
func (c *IndexCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// sealedIndexes are a sealed segment's offset and time indexes.
type sealedIndexes struct {
	offsets offsetIndex
	times   timeIndex
}

// size is roughly what x takes in memory.
func (x *sealedIndexes) size() int64 {
	return int64(cap(x.offsets))*indexEntrySize + int64(cap(x.times))*16 + 64
}

// cacheSlot is a segment's place in the cache; guarded by IndexCache.mu.
type cacheSlot struct {
	loaded  *sealedIndexes
	elem    *list.Element
	dropped bool // the segment left its log: nothing of it is cached again
	warned  bool // a failure to read its index files was logged
}

// put caches x as s's indexes and returns what s now has (an earlier load wins).
func (c *IndexCache) put(s *segment, x *sealedIndexes) *sealedIndexes {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.slot.loaded != nil {
		c.lru.MoveToFront(s.slot.elem)
		return s.slot.loaded
	}
	if s.slot.dropped {
		return x
	}
	s.slot.loaded, s.slot.elem = x, c.lru.PushFront(s)
	c.bytes += x.size()
	for c.max > 0 && c.bytes > c.max {
		back := c.lru.Back()
		if back.Value == s {
			break // the only one left: keep it while it is being used
		}
		c.removeLocked(back.Value.(*segment))
	}
	return x
}

// get returns s's indexes, reading them from its index files if they are not cached.
// The caller keeps s from being removed meanwhile (holds Log.fileMu).
func (c *IndexCache) get(s *segment) (*sealedIndexes, error) {
	c.mu.Lock()
	if x := s.slot.loaded; x != nil {
		c.lru.MoveToFront(s.slot.elem)
		c.mu.Unlock()
		return x, nil
	}
	c.mu.Unlock()
	x, err := s.readIndexes()
	if err != nil {
		return nil, err
	}
	return c.put(s, x), nil
}

// drop forgets s for good: its log no longer has it.
func (c *IndexCache) drop(s *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.slot.dropped = true
	if s.slot.elem != nil {
		c.removeLocked(s)
	}
}

func (c *IndexCache) removeLocked(s *segment) {
	c.lru.Remove(s.slot.elem)
	c.bytes -= s.slot.loaded.size()
	s.slot.loaded, s.slot.elem = nil, nil
}

// firstFailure reports whether this is the first failure to read s's index files, which
// is worth a log line; later ones are not.
func (c *IndexCache) firstFailure(s *segment) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !s.slot.warned
	s.slot.warned = true
	return first
}

// readIndexes reads a sealed segment's index files back, checking them against the
// segment as Open does.
func (s *segment) readIndexes() (*sealedIndexes, error) {
	if s.next <= s.base {
		return &sealedIndexes{}, nil
	}
	maxRel := uint32(s.next - 1 - s.base)
	raw, err := os.ReadFile(s.indexPath())
	if err != nil {
		return nil, err
	}
	offsets, err := decodeOffsetIndex(raw, s.size, maxRel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.indexPath(), err)
	}
	if raw, err = os.ReadFile(s.timeIndexPath()); err != nil {
		return nil, err
	}
	times, err := decodeTimeIndex(raw, maxRel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.timeIndexPath(), err)
	}
	return &sealedIndexes{offsets: offsets, times: times}, nil
}

// handOver moves a sealed segment's indexes, durable in its index files, from the segment
// into the cache. Callers hold syncMu, or own the log alone (Open).
func (l *Log) handOver(s *segment) {
	l.mu.Lock()
	x := &sealedIndexes{offsets: s.index, times: s.timeIndex}
	s.index, s.timeIndex, s.indexed = nil, nil, true
	l.mu.Unlock()
	l.indexes.put(s, x)
}

// sealedIndexes returns the indexes of an indexed segment (see segment.indexed), reading
// them back if the cache dropped them; nil if that fails, which costs the caller a scan
// from the segment's start rather than an error: the indexes only shorten scans. Callers
// hold fileMu (so s stays in the log) but not mu (the read may wait for the disk).
func (l *Log) sealedIndexes(s *segment) *sealedIndexes {
	x, err := l.indexes.get(s)
	if err != nil {
		if l.indexes.firstFailure(s) {
			l.logger.Warn().Err(err).Str("file", s.logPath()).Msg("wal: cannot read a sealed segment's index; scanning it from its start instead")
		}
		return nil
	}
	return x
}

// sealedPosition is startPosition for an indexed segment, for callers that hold fileMu
// but not mu.
func (l *Log) sealedPosition(s *segment, offset int64) int64 {
	if x := l.sealedIndexes(s); x != nil {
		return x.offsets.startPosition(s.base, offset)
	}
	return 0
}
