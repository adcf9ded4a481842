package wal

import (
	"errors"
	"fmt"
	"os"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/codec"
)

// cleaner is one Run's working state.
type cleaner struct {
	plan   *CleanPlan
	stop   <-chan struct{}
	codecs cleanCodecs
}

type cleanCodecs struct {
	d *codec.Decompressor
	c *codec.Compressor
}

func newCleanCodecs() cleanCodecs {
	return cleanCodecs{d: codec.NewDecompressor(cleanInflateLimit, 1), c: codec.NewCompressor(1)}
}

// records returns b's records section uncompressed, if they all parse; release hands a
// buffer back. ok is false for a batch the cleaner cannot read: too large to decompress
// for cleaning, or records that do not decompress or parse (a producer's batch too large
// for the produce-time check is stored unchecked). Such a batch is kept whole, and its
// keys are not in the offset map: the cleaner never drops what it cannot read, at the
// cost of keeping some superseded records.
func (cc cleanCodecs) records(h batch.Header, b []byte) (recs []byte, release func(), ok bool) {
	recs, release = b[batch.HeaderSize:], func() {}
	if h.Compression() != batch.CodecNone {
		out, err := cc.d.Decompress(h.Compression(), recs, cleanInflateLimit)
		if err != nil {
			return nil, nil, false
		}
		recs, release = out, func() { cc.d.Release(out) }
	}
	n := int32(0)
	if err := batch.WalkRecords(recs, func(batch.Record) bool { n++; return true }); err != nil || n != h.NumRecords {
		release()
		return nil, nil, false
	}
	return recs, release, true
}

// eachBatch calls fn with every batch of s, whole and checked (CRC-32C), in order. Each
// chunk is read under the log's read lock, like Read; a log closed or changed meanwhile
// ends the walk with errCleanStale.
func (c *cleaner) eachBatch(s *segment, size int64, fn func(h batch.Header, b []byte) error) error {
	l := c.plan.l
	var buf []byte
	for pos := int64(0); pos < size; {
		select {
		case <-c.stop:
			return fmt.Errorf("clean: %w: stopped", errCleanStale)
		default:
		}
		n := min(int64(recoveryChunk), size-pos)
		l.fileMu.RLock()
		l.mu.RLock()
		stale := l.closed || l.changes != c.plan.changes
		l.mu.RUnlock()
		if stale {
			l.fileMu.RUnlock()
			return fmt.Errorf("clean: %w", errCleanStale)
		}
		h, err := s.readHeader(pos, size)
		if err == nil {
			n = max(n, int64(h.Size()))
			if cap(buf) < int(n) {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			if _, rerr := s.file.ReadAt(buf, pos); rerr != nil {
				err = fmt.Errorf("%w: read %s at %d: %w", ErrStorage, s.logPath(), pos, rerr)
			}
		}
		l.fileMu.RUnlock()
		if err != nil {
			return fmt.Errorf("clean: %w", err)
		}
		// The chunk's whole batches; the first always is one.
		off := 0
		for off+batch.HeaderSize <= len(buf) {
			h, _ := batch.ParseHeader(buf[off:])
			if h.Size() < batch.HeaderSize || off+h.Size() > len(buf) {
				break
			}
			b := buf[off : off+h.Size()]
			if _, err := batch.CheckIntegrity(b); err != nil {
				return fmt.Errorf("clean: %w: %s at position %d: %w", ErrStorage, s.logPath(), pos+int64(off), err)
			}
			if err := fn(h, b); err != nil {
				return err
			}
			off += h.Size()
		}
		if off == 0 {
			return fmt.Errorf("clean: %w: %s: no whole batch at position %d", ErrStorage, s.logPath(), pos)
		}
		pos += int64(off)
	}
	return nil
}

// errMapFull stops the offset map's walk at the first batch that does not fit.
var errMapFull = errors.New("offset map full")

// buildOffsetMap maps each key of the dirty range (the cleaner checkpoint up to the end
// of the cleanable segments) to its newest offset, and returns where the map ends: the
// new cleaner checkpoint. When the map fills, it ends before the batch that did not fit;
// it always takes at least one batch.
func (c *cleaner) buildOffsetMap() (*offsetMap, int64, error) {
	p := c.plan
	m := newOffsetMap(p.cfg.MaxKeys)
	end := p.dirty
	for i, s := range p.segs {
		if p.ends[i] <= p.dirty {
			continue
		}
		err := c.eachBatch(s, p.sizes[i], func(h batch.Header, b []byte) error {
			if h.LastOffset() < p.dirty {
				return nil
			}
			if end > p.dirty && !m.room(int(h.NumRecords)) {
				return errMapFull
			}
			if recs, release, ok := c.codecs.records(h, b); ok && !h.Control() {
				batch.WalkRecords(recs, func(r batch.Record) bool {
					if off := h.BaseOffset + int64(r.OffsetDelta); r.Key != nil && off >= p.dirty {
						m.put(r.Key, off)
					}
					return true
				})
				release()
			}
			end = h.LastOffset() + 1
			return nil
		})
		if errors.Is(err, errMapFull) {
			return m, end, nil
		}
		if err != nil {
			return nil, 0, err
		}
		end = max(end, p.ends[i])
	}
	return m, end, nil
}

// rewrite writes the sources' retained batches into ".cleaned" files, one per group of
// consecutive sources that fits in a segment (segment.bytes, and the 32-bit relative
// offsets of the indexes), each named after its group's first source. A group that
// keeps nothing gets no file, except that the first file is named after the log's first
// segment whenever its offsets allow: the first segment's base is where Open puts the
// log start offset, which must not move up when the records there are cleaned away (a
// consumer at a removed offset would be out of range and reset).
func (c *cleaner) rewrite(res *CleanResult, m *offsetMap, keep map[int64]int64) error {
	p := c.plan
	for i := 0; i < len(res.sources); {
		j, size := i+1, p.sizes[i]
		for j < len(res.sources) && size+p.sizes[j] <= p.segMax && p.ends[j]-1-p.segs[i].base <= maxRelativeOffset {
			size += p.sizes[j]
			j++
		}
		base := p.segs[i].base
		if len(res.outputs) == 0 && p.ends[j-1]-1-p.segs[0].base <= maxRelativeOffset {
			base = p.segs[0].base
		}
		out, err := c.rewriteGroup(res, base, i, j, m, keep)
		if err != nil {
			return err
		}
		if out != nil {
			res.outputs = append(res.outputs, out)
		}
		res.Stats.Segments += j - i
		i = j
	}
	return nil
}

// rewriteGroup writes sources [i, j) into one cleaned segment named base; nil if nothing
// is kept.
func (c *cleaner) rewriteGroup(res *CleanResult, base int64, i, j int, m *offsetMap, keep map[int64]int64) (*segment, error) {
	p := c.plan
	stem := segmentStem(p.l.dir, base)
	f, err := openCleanedFile(stem + logSuffix + cleanedSuffix)
	if err != nil {
		return nil, fmt.Errorf("%w: clean: %w", ErrStorage, err)
	}
	// Written through f; once done, the segment's file is opened through the cache, by
	// its final name, which it has from the swap on. So a pass holds one file open
	// however many segments it writes.
	out := newSegment(base, stem, p.l.files.newClosedFile(stem+logSuffix, p.l.openFile))
	fail := func(err error) (*segment, error) {
		f.Close()
		out.file.Close()
		removeIfExists(stem + logSuffix + cleanedSuffix)
		return nil, err
	}
	for k := i; k < j; k++ {
		res.Stats.BytesBefore += p.sizes[k]
		err := c.eachBatch(p.segs[k], p.sizes[k], func(h batch.Header, b []byte) error {
			kept, err := c.filterBatch(h, b, m, keep[h.ProducerID] == h.LastOffset() && h.ProducerID >= 0, &res.Stats)
			if err != nil || kept == nil {
				return err
			}
			if _, err := f.WriteAt(kept, out.size); err != nil {
				return fmt.Errorf("%w: write %s: %w", ErrStorage, out.logPath()+cleanedSuffix, err)
			}
			kh, _ := batch.ParseHeader(kept)
			out.record(kh, out.size, p.indexInterval)
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	if out.size == 0 {
		return fail(nil)
	}
	if err := f.Datasync(); err != nil {
		return fail(fmt.Errorf("%w: sync %s: %w", ErrStorage, out.logPath()+cleanedSuffix, err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("%w: close %s: %w", ErrStorage, out.logPath()+cleanedSuffix, err))
	}
	out.appendTimeEntry()
	out.next = p.ends[j-1]
	out.syncedSize = out.size
	res.Stats.BytesAfter += out.size
	return out, nil
}

// filterBatch returns b with only the records to keep (b itself if all are kept, nil if
// none is). A record is kept when it is its key's newest (it is not in the offset map, or
// the map names it or a later offset in its own batch's place); a record without a key is
// removed, as Kafka's cleaner removes it. A tombstone is removed when it was cleaned
// before (below the cleaner checkpoint) and its batch is older than DeleteRetention:
// Kafka 3's cleaner counts delete.retention.ms from the first clean instead, which needs
// a batch attribute this log does not write; with this rule a consumer that reads from
// the start within delete.retention.ms of a tombstone's write sees it. Batches the
// cleaner must not change are kept whole: control batches, transactional ones, each
// idempotent producer's last batch, and batches too large to decompress.
func (c *cleaner) filterBatch(h batch.Header, b []byte, m *offsetMap, producerLast bool, st *CleanStats) ([]byte, error) {
	st.RecordsRead += int64(h.NumRecords)
	if h.Control() || h.Transactional() || producerLast {
		return b, nil
	}
	recs, release, ok := c.codecs.records(h, b)
	if !ok {
		return b, nil
	}
	defer release()
	horizon := c.plan.now.Add(-c.plan.cfg.DeleteRetention).UnixMilli()
	var kept []byte
	var n int32
	maxTS := int64(-1)
	batch.WalkRecords(recs, func(r batch.Record) bool { // records checked they parse
		off := h.BaseOffset + int64(r.OffsetDelta)
		retain := r.Key != nil
		if latest, found := m.latest(r.Key); retain && found && off < latest {
			retain = false
		}
		if retain && r.NullValue && off < c.plan.dirty && h.MaxTimestamp < horizon {
			retain = false
		}
		if retain {
			kept = append(kept, r.Raw...)
			n++
			maxTS = max(maxTS, h.FirstTimestamp+r.TimestampDelta)
		}
		return true
	})
	st.RecordsRemoved += int64(h.NumRecords - n)
	switch {
	case n == h.NumRecords:
		return b, nil
	case n == 0:
		return nil, nil
	}
	out := make([]byte, batch.HeaderSize, batch.HeaderSize+len(kept))
	copy(out, b[:batch.HeaderSize])
	var err error
	if h.Compression() == batch.CodecNone {
		out = append(out, kept...)
	} else if out, err = c.codecs.c.Compress(h.Compression(), codec.DefaultLevels(), kept, out); err != nil {
		return nil, fmt.Errorf("clean: recompress batch at offset %d: %w", h.BaseOffset, err)
	}
	if h.LogAppendTime() {
		maxTS = h.MaxTimestamp // the append time, not the records'
	}
	// Base offset and last offset delta stay: the batch keeps its offset range, so the
	// producer's sequence numbers (base sequence + delta) keep their meaning.
	batch.SetRecordCount(out, n, maxTS)
	batch.Reseal(out, h.Compression())
	return out, nil
}

// openCleanedFile creates a cleaned segment's file. It is the cleaner's one way to open a
// segment file for writing, kept apart so the log's file handling can reroute it.
func openCleanedFile(path string) (segmentFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return osFile{f}, nil
}
