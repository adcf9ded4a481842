package wal

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chronik/chronik-node/wal/batch"
)

// File name suffixes; the stem is the segment's base offset, 20 digits, zero-padded.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// Limits that keep a segment addressable by the 32-bit relative offsets and positions of
// its indexes.
const (
	maxSegmentPosition = math.MaxUint32
	maxRelativeOffset  = math.MaxInt32
)

func segmentStem(dir string, base int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d", base))
}

// parseSegmentName returns the base offset of a file named like a segment's, and its
// suffix.
func parseSegmentName(name string) (base int64, suffix string, ok bool) {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if len(stem) != 20 {
		return 0, "", false
	}
	base, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || base < 0 {
		return 0, "", false
	}
	return base, ext, true
}

// segment is one data file of the log and its in-memory indexes.
type segment struct {
	base int64
	stem string // path without suffix
	file *cachedFile

	// Published state: written by the owner goroutine with Log.mu held, read by others with
	// Log.mu held for reading. Readers never look past size, so bytes being written there
	// are invisible until the owner publishes them.
	size int64
	next int64 // offset after the last batch; base while empty
	// The indexes, in memory while the segment is active, and sealed until its index
	// files are durable; from then on (indexed) they live in the log's IndexCache.
	index     offsetIndex
	timeIndex timeIndex
	indexed   bool // written with syncMu and mu held
	slot      cacheSlot
	maxTS     int64 // largest batch max timestamp; -1 if none
	maxTSOff  int64 // last offset of the batch holding maxTS; -1 if none

	// Owner-only bookkeeping.
	sinceIndex  int       // bytes appended since the last offset index entry
	rollBase    time.Time // when the segment's age for SegmentMs started
	garbageTail bool      // a failed write left bytes past size that could not be cut
	reserved    int64     // file bytes with disk blocks reserved ahead of appends (prealloc.go)

	syncedSize  int64 // bytes known durable; guarded by Log.syncMu
	writtenBack int64 // bytes StartWriteback has queued for writing; guarded by Log.syncMu
}

func newSegment(base int64, stem string, f *cachedFile) *segment {
	return &segment{base: base, stem: stem, file: f, next: base, maxTS: -1, maxTSOff: -1}
}

func (s *segment) logPath() string       { return s.stem + logSuffix }
func (s *segment) indexPath() string     { return s.stem + indexSuffix }
func (s *segment) timeIndexPath() string { return s.stem + timeIndexSuffix }

// record notes a batch written at pos: extends the segment and its indexes. The offset
// index gains an entry once IndexIntervalBytes have accumulated since the last one.
func (s *segment) record(h batch.Header, pos int64, indexInterval int) {
	if h.MaxTimestamp > s.maxTS {
		s.maxTS, s.maxTSOff = h.MaxTimestamp, h.LastOffset()
	}
	if s.sinceIndex >= indexInterval {
		s.index = append(s.index, indexEntry{rel: s.rel(h.BaseOffset), pos: uint32(pos)})
		s.appendTimeEntry()
		s.sinceIndex = 0
	}
	s.sinceIndex += h.Size()
	s.size = pos + int64(h.Size())
	s.next = h.LastOffset() + 1
}

// appendTimeEntry records the current max timestamp in the time index if it grew.
func (s *segment) appendTimeEntry() {
	if s.maxTS < 0 {
		return
	}
	if n := len(s.timeIndex); n > 0 && s.timeIndex[n-1].ts >= s.maxTS {
		return
	}
	s.timeIndex = append(s.timeIndex, timeEntry{ts: s.maxTS, rel: s.rel(s.maxTSOff)})
}

func (s *segment) rel(off int64) uint32 { return uint32(off - s.base) }

// resetState forgets everything recorded, ready for a rescan.
func (s *segment) resetState() {
	s.size, s.next, s.index, s.timeIndex = 0, s.base, nil, nil
	s.maxTS, s.maxTSOff, s.sinceIndex = -1, -1, 0
}

// fits reports whether a batch can join the segment, which holds size bytes so far,
// without exceeding the configured size or the index's 32-bit ranges.
func (s *segment) fits(h batch.Header, size, segmentBytes int64) bool {
	end := size + int64(h.Size())
	return end <= segmentBytes && end <= maxSegmentPosition && h.LastOffset()-s.base <= maxRelativeOffset
}

// largestTimestamp is what time retention compares: the newest batch timestamp, or the
// file's modification time when no batch carries a timestamp (as Kafka does).
func (s *segment) largestTimestamp() int64 {
	if s.maxTS >= 0 {
		return s.maxTS
	}
	if fi, err := os.Stat(s.logPath()); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return -1
}

// removeFiles deletes the segment's files; the caller has closed it.
func (s *segment) removeFiles() error {
	for _, p := range []string{s.logPath(), s.indexPath(), s.timeIndexPath()} {
		if err := removeIfExists(p); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

// writeIndexFiles stores both indexes of a sealed segment and flushes them. Each file is
// replaced whole (temporary file, rename), so a crash never leaves a shortened index that
// still looks consistent; the caller flushes the directory.
func (s *segment) writeIndexFiles() error {
	for _, f := range []struct {
		path string
		data []byte
	}{{s.indexPath(), s.index.encode()}, {s.timeIndexPath(), s.timeIndex.encode()}} {
		if err := writeFileSync(f.path+tmpSuffix, f.data); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		if err := os.Rename(f.path+tmpSuffix, f.path); err != nil {
			return fmt.Errorf("replace %s: %w", f.path, err)
		}
	}
	return nil
}

// readHeader reads the header of the batch at pos, which must end by limit (the published
// size). A header that does not fit is on-disk corruption, reported as ErrStorage.
func (s *segment) readHeader(pos, limit int64) (batch.Header, error) {
	if err := s.checkHeaderRoom(pos, limit); err != nil {
		return batch.Header{}, err
	}
	var buf [batch.HeaderSize]byte
	if _, err := s.file.ReadAt(buf[:], pos); err != nil {
		return batch.Header{}, fmt.Errorf("%w: read %s at %d: %w", ErrStorage, s.logPath(), pos, err)
	}
	return s.parseHeaderAt(buf[:], pos, limit)
}

func (s *segment) checkHeaderRoom(pos, limit int64) error {
	if limit-pos < batch.HeaderSize {
		return fmt.Errorf("%w: %s: %d bytes at position %d, too few for a batch", ErrStorage, s.logPath(), limit-pos, pos)
	}
	return nil
}

// parseHeaderAt parses the header read from pos and checks that its batch ends by limit.
func (s *segment) parseHeaderAt(buf []byte, pos, limit int64) (batch.Header, error) {
	h, _ := batch.ParseHeader(buf)
	if h.Size() < batch.HeaderSize || int64(h.Size()) > limit-pos {
		return batch.Header{}, fmt.Errorf("%w: %s: corrupt batch length %d at position %d", ErrStorage, s.logPath(), h.BatchLength, pos)
	}
	return h, nil
}

// headerChunk is how much of a segment a headerReader reads at a time: a 16 KiB read costs
// little more than a 61-byte one, and holds the headers of ~100 one-record batches.
const headerChunk = 16 << 10

// headerReader reads the headers of consecutive batches, a chunk of the file at a time
// instead of one read per batch. What it holds stays true while its segment is the same
// object: a segment's bytes below its published size never change (truncation and cleaning
// replace the segment or bump the log's changes, which its callers check).
type headerReader struct {
	seg   *segment
	start int64 // file position of buf[0]
	buf   []byte
	last  int64 // where the previous header was read, to size the next read
}

// header is seg.readHeader(pos, limit), from the chunk held when it covers the header.
func (r *headerReader) header(seg *segment, pos, limit int64) (batch.Header, error) {
	if err := seg.checkHeaderRoom(pos, limit); err != nil {
		return batch.Header{}, err
	}
	if r.seg != seg || pos < r.start || pos+batch.HeaderSize > r.start+int64(len(r.buf)) {
		if cap(r.buf) < headerChunk {
			r.buf = make([]byte, headerChunk)
		}
		// Batches of a quarter chunk or more would make a chunk read copy mostly records:
		// after one, read the next header alone.
		n := int64(headerChunk)
		if r.seg == seg && pos-r.last >= headerChunk/4 {
			n = batch.HeaderSize
		}
		r.seg, r.start, r.buf = nil, pos, r.buf[:min(n, limit-pos)]
		if _, err := seg.file.ReadAt(r.buf, pos); err != nil {
			return batch.Header{}, fmt.Errorf("%w: read %s at %d: %w", ErrStorage, seg.logPath(), pos, err)
		}
		r.seg = seg
	}
	r.last = pos
	off := pos - r.start
	return seg.parseHeaderAt(r.buf[off:off+batch.HeaderSize], pos, limit)
}

// findBatch walks headers from pos (a batch boundary) to the first batch whose last offset
// is at least offset, stopping at limit. found is false if the segment ends first.
func (s *segment) findBatch(offset, pos, limit int64) (h batch.Header, at int64, found bool, err error) {
	for pos < limit {
		h, err := s.readHeader(pos, limit)
		if err != nil {
			return batch.Header{}, 0, false, err
		}
		if h.LastOffset() >= offset {
			return h, pos, true, nil
		}
		pos += int64(h.Size())
	}
	return batch.Header{}, pos, false, nil
}

// startPosition is where a scan for offset may begin: the indexed batch at or before it.
// For a segment not yet indexed (see indexed); callers hold mu, or are the owner.
func (s *segment) startPosition(offset int64) int64 {
	return s.index.startPosition(s.base, offset)
}

// startPosition is where a scan of a segment starting at base for offset may begin.
func (x offsetIndex) startPosition(base, offset int64) int64 {
	switch rel := offset - base; {
	case rel <= 0:
		return 0
	case rel > math.MaxUint32:
		return x.lookup(math.MaxUint32)
	default:
		return x.lookup(uint32(rel))
	}
}
