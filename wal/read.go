package wal

import (
	"fmt"
	"sort"

	"github.com/chronik/chronik-node/wal/batch"
)

// Read returns whole batches starting with the one that holds offset: batches whose base
// offset is below maxOffset (the high watermark; values above the log end mean the log
// end), up to maxBytes in total, but always at least one batch if one is available, even a
// batch larger than maxBytes, so a consumer always makes progress (KIP-74). Reading at the
// log end or at maxOffset returns nothing; an offset below StartOffset or beyond EndOffset
// is ErrOffsetOutOfRange. A read never spans two segments: the next read continues.
func (l *Log) Read(offset, maxOffset int64, maxBytes int) ([]byte, error) {
	return l.ReadInto(offset, maxOffset, maxBytes, nil)
}

// ReadInto is Read into a buffer from alloc, which must return a slice of length n whose
// contents do not matter (every byte is overwritten before it is returned); nil alloc
// means make. Fetches pass a pooled allocator: a fresh buffer per read was zeroed only to
// be overwritten at once, and thrown away once the response was written.
func (l *Log) ReadInto(offset, maxOffset int64, maxBytes int, alloc func(n int) []byte) ([]byte, error) {
	l.fileMu.RLock()
	defer l.fileMu.RUnlock()

	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	if offset < l.logStart || offset > l.leo {
		start, end := l.logStart, l.leo
		l.mu.RUnlock()
		return nil, fmt.Errorf("read at %d: %w: log holds [%d, %d)", offset, ErrOffsetOutOfRange, start, end)
	}
	maxOffset = min(maxOffset, l.leo)
	if offset >= maxOffset {
		l.mu.RUnlock()
		return nil, nil
	}
	i := l.segmentIndex(offset)
	seg := l.segments[i]
	limit, pos, indexed := seg.size, int64(0), seg.indexed
	if !indexed {
		pos = seg.startPosition(offset)
	}
	var next *segment // for a gap after seg, below
	var nextLimit int64
	if i+1 < len(l.segments) {
		next, nextLimit = l.segments[i+1], l.segments[i+1].size
	}
	l.mu.RUnlock()
	if indexed { // its index may have to be read from disk: not while holding mu
		pos = l.sealedPosition(seg, offset)
	}

	// The segment holding offset has a batch holding it, unless the cleaner removed the
	// segment's last batches (compact.go) or a segment file went missing while the log
	// was closed: as Kafka does, a read in that gap is served from the next segment, so a
	// consumer crossing it moves on. Only the empty active segment can follow with no
	// batch: then there is nothing to read yet.
	h, pos, found, err := seg.findBatch(offset, pos, limit)
	if err == nil && !found && next != nil {
		seg, limit = next, nextLimit
		if h, pos, found, err = seg.findBatch(seg.base, 0, limit); err == nil && !found && limit == 0 {
			return nil, nil
		}
	}
	if err == nil && !found {
		err = fmt.Errorf("%w: %s ends before offset %d", ErrStorage, seg.logPath(), offset)
	}
	if err != nil || h.BaseOffset >= maxOffset {
		return nil, err
	}

	n := max(int64(h.Size()), min(int64(maxBytes), limit-pos))
	var buf []byte
	if alloc != nil {
		buf = alloc(int(n))
	} else {
		buf = make([]byte, n)
	}
	if _, err := seg.file.ReadAt(buf, pos); err != nil {
		return nil, fmt.Errorf("%w: read %s at %d: %w", ErrStorage, seg.logPath(), pos, err)
	}
	return buf[:wholeBatches(buf, maxOffset)], nil
}

// wholeBatches returns how many leading bytes of buf are complete batches with base offsets
// below maxOffset. buf starts at a batch boundary.
func wholeBatches(buf []byte, maxOffset int64) int {
	n := 0
	for len(buf)-n >= batch.HeaderSize {
		h, _ := batch.ParseHeader(buf[n:])
		if h.BaseOffset >= maxOffset || h.Size() < batch.HeaderSize || h.Size() > len(buf)-n {
			break
		}
		n += h.Size()
	}
	return n
}

// segmentIndex returns the index of the segment that holds offset (the last one whose base
// is at or below it). Callers hold mu.
func (l *Log) segmentIndex(offset int64) int {
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset })
	return max(i-1, 0)
}

// OffsetForTimestamp finds the first batch, at or after the log start, whose max timestamp
// is at least ts, and returns its base offset (or the log start, if the batch straddles it)
// and its max timestamp. Precision is a batch, as Kafka has for compressed batches.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool) {
	l.fileMu.RLock()
	defer l.fileMu.RUnlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return -1, -1, false
	}
	start := l.logStart
	type candidate struct {
		seg          *segment
		from, limit  int64
		searchOffset int64
		indexed      bool // from and searchOffset are found below, without mu
	}
	var cands []candidate
	for _, s := range l.segments[l.segmentIndex(start):] {
		if s.maxTS < ts {
			continue
		}
		from := max(start, s.base)
		if s.indexed {
			cands = append(cands, candidate{seg: s, limit: s.size, searchOffset: from, indexed: true})
			continue
		}
		if e, ok := s.timeIndex.lookupBefore(ts); ok {
			from = max(from, s.base+int64(e.rel)+1)
		}
		cands = append(cands, candidate{seg: s, from: s.startPosition(from), limit: s.size, searchOffset: from})
	}
	l.mu.RUnlock()
	for i := range cands {
		c := &cands[i]
		if !c.indexed {
			continue
		}
		if x := l.sealedIndexes(c.seg); x != nil {
			if e, ok := x.times.lookupBefore(ts); ok {
				c.searchOffset = max(c.searchOffset, c.seg.base+int64(e.rel)+1)
			}
			c.from = x.offsets.startPosition(c.seg.base, c.searchOffset)
		}
	}

	for _, c := range cands {
		pos := c.from
		for pos < c.limit {
			h, err := c.seg.readHeader(pos, c.limit)
			if err != nil {
				l.logger.Error().Err(err).Msg("wal: offset for timestamp")
				return -1, -1, false
			}
			if h.LastOffset() >= c.searchOffset && h.MaxTimestamp >= ts {
				return max(h.BaseOffset, start), h.MaxTimestamp, true
			}
			pos += int64(h.Size())
		}
	}
	return -1, -1, false
}

// MaxTimestamp returns the largest batch timestamp in the log and the last offset of the
// first batch carrying it; (-1, -1) when no batch has a timestamp.
func (l *Log) MaxTimestamp() (ts int64, offset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ts, offset = -1, -1
	for _, s := range l.segments {
		if s.maxTS > ts {
			ts, offset = s.maxTS, s.maxTSOff
		}
	}
	return ts, offset
}

// scanChunk is how many headers ScanHeaders reads per visit to the files, so that truncation
// and deletion never wait for a long scan.
const scanChunk = 1024

// ScanHeaders calls fn with the header of every batch whose last offset is at least from
// (and at least the log start), in offset order, up to the log end as of the call. It reads
// headers only. fn runs without locks held; should the owner truncate the log or delete
// segments meanwhile, ScanHeaders stops with ErrOffsetOutOfRange and the caller retries.
// An error from fn stops the scan and is returned.
func (l *Log) ScanHeaders(from int64, fn func(h batch.Header) error) error {
	l.mu.RLock()
	from, end, changes := max(from, l.logStart), l.leo, l.changes
	l.mu.RUnlock()

	var headers []batch.Header
	var hr headerReader
	for from < end {
		headers = headers[:0]
		l.fileMu.RLock()
		l.mu.RLock()
		if l.closed || l.changes != changes {
			closed := l.closed
			l.mu.RUnlock()
			l.fileMu.RUnlock()
			if closed {
				return ErrClosed
			}
			return fmt.Errorf("scan headers at %d: %w: the log changed during the scan", from, ErrOffsetOutOfRange)
		}
		i := l.segmentIndex(from)
		seg := l.segments[i]
		limit, pos, indexed := seg.size, int64(0), seg.indexed
		if !indexed {
			pos = seg.startPosition(from)
		}
		nextBase := int64(-1) // where to go on if seg ends before from (a cleaned-away tail)
		if i+1 < len(l.segments) {
			nextBase = l.segments[i+1].base
		}
		l.mu.RUnlock()
		if indexed {
			pos = l.sealedPosition(seg, from)
		}
		h, pos, found, err := seg.findBatch(from, pos, limit)
		if err == nil && !found && nextBase > from {
			l.fileMu.RUnlock()
			from = nextBase
			continue
		}
		for err == nil && found && len(headers) < scanChunk && h.BaseOffset < end {
			headers = append(headers, h)
			if pos += int64(h.Size()); pos < limit {
				h, err = hr.header(seg, pos, limit)
			} else {
				found = false
			}
		}
		l.fileMu.RUnlock()
		if err != nil {
			return fmt.Errorf("scan headers: %w", err)
		}
		if len(headers) == 0 {
			return nil // nothing at or after from below end
		}
		for _, h := range headers {
			if err := fn(h); err != nil {
				return err
			}
		}
		from = headers[len(headers)-1].LastOffset() + 1
	}
	return nil
}
