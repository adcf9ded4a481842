package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik/chronik-node/wal/batch"
)

// recover loads the segments of l.dir and brings the log to a consistent state:
//
//   - Segments wholly below the recovery point were flushed with their indexes by a
//     completed Sync; they are trusted and only their index files are read. If an index is
//     missing or fails its consistency checks, the segment is rescanned and must be intact.
//   - Every later segment (always including the active one) is rescanned batch by batch:
//     length, CRC-32C and offset continuity. The first bad batch and everything after it,
//     including later segments, is cut: that is the torn tail of an interrupted write.
func (l *Log) recover() error {
	if err := l.recoverClean(); err != nil {
		return err
	}
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	logStart, haveStart, err := l.readOffsetHint(logStartCheckpoint)
	if err != nil {
		return err
	}
	if l.recoveryPoint, _, err = l.readOffsetHint(recoveryPointCheckpoint); err != nil {
		return err
	}
	l.durableTo.Store(l.recoveryPoint)

	for _, base := range bases {
		// Opened on first use: a log may hold more segments than the process may have
		// files open.
		stem := segmentStem(l.dir, base)
		l.segments = append(l.segments, newSegment(base, stem, l.files.newClosedFile(stem+logSuffix, l.openFile)))
	}
	// Segments wholly below the log start were being deleted when the process stopped.
	below := 0
	for below < len(l.segments)-1 && l.segments[below+1].base <= logStart {
		below++
	}
	if err := l.dropSegments(0, below, "below the log start offset"); err != nil {
		return err
	}

	var hints epochCache // epochs seen in rescanned segments
	for i := 0; i < len(l.segments); i++ {
		s := l.segments[i]
		if i+1 < len(l.segments) && l.segments[i+1].base <= l.recoveryPoint {
			if err := l.loadTrusted(s, l.segments[i+1].base); err != nil {
				return err
			}
			continue
		}
		res, err := l.rescan(s, &hints)
		if err != nil {
			return err
		}
		if res.problem != "" {
			l.logger.Warn().Str("file", s.logPath()).Int64("position", res.validSize).
				Int64("bytes", res.fileSize-res.validSize).Str("reason", res.problem).
				Msg("wal: truncating torn or corrupt tail")
			if err := s.file.Truncate(res.validSize); err != nil {
				return fmt.Errorf("%w: truncate %s: %w", ErrStorage, s.logPath(), err)
			}
			l.dirDirty = true
		}
		if i+1 < len(l.segments) {
			if res.problem != "" || !continuesAt(s.next, l.segments[i+1].base, l.cleanedTo) {
				// Whatever follows a cut, or a gap, cannot belong to this log.
				if err := l.dropSegments(i+1, len(l.segments), fmt.Sprintf("after the end of %s at offset %d", s.logPath(), s.next)); err != nil {
					return err
				}
			} else {
				s.next = l.segments[i+1].base      // past a gap the cleaner left, if any
				s.appendTimeEntry()                // sealed: the last time entry holds its max
				l.unsynced = append(l.unsynced, s) // its index files are written by Sync
			}
		}
	}

	if len(l.segments) == 0 {
		stem := segmentStem(l.dir, logStart)
		f, err := l.createPinned(stem+logSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
		if err != nil {
			return fmt.Errorf("%w: create segment: %w", ErrStorage, err)
		}
		l.segments = []*segment{newSegment(logStart, stem, f)}
		l.dirDirty = true
	}
	if err := l.active().file.pin(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStorage, l.active().logPath(), err)
	}
	l.leo = l.active().next
	// A log start below the first segment stands only where the cleaner removed every
	// record between them.
	if !haveStart || (logStart < l.segments[0].base && !continuesAt(logStart, l.segments[0].base, l.cleanedTo)) {
		logStart = l.segments[0].base
	}
	l.logStart = logStart
	if l.logStart > l.leo {
		// Records were deleted up to an offset the surviving log does not reach.
		return l.TruncateFullyAndStartAt(l.logStart)
	}
	return l.recoverEpochs(hints)
}

// listSegments returns the base offsets of the segment files in l.dir, ascending, after
// removing leftovers: temporary checkpoint files and index files without a segment.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: list directory: %w", ErrStorage, err)
	}
	logs := map[int64]bool{}
	var orphans []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			orphans = append(orphans, name)
			continue
		}
		base, suffix, ok := parseSegmentName(name)
		switch {
		case !ok:
		case suffix == logSuffix:
			logs[base] = true
		case suffix == indexSuffix || suffix == timeIndexSuffix:
			orphans = append(orphans, name) // kept below if its segment exists
		}
	}
	for _, name := range orphans {
		if base, _, ok := parseSegmentName(name); ok && logs[base] {
			continue
		}
		if err := removeIfExists(filepath.Join(l.dir, name)); err != nil {
			return nil, fmt.Errorf("%w: remove leftover %s: %w", ErrStorage, name, err)
		}
		l.logger.Info().Str("file", name).Msg("wal: removed leftover file")
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// readOffsetHint reads a single-offset checkpoint; a damaged one is logged and ignored: a
// lost log start offset falls back to the first segment, a lost recovery point to
// rescanning everything. A file that cannot be read fails the open instead (ErrStorage):
// ignoring it while it is intact would bring back records deleted below the log start.
func (l *Log) readOffsetHint(name string) (int64, bool, error) {
	off, ok, err := readOffsetCheckpoint(l.dir, name)
	switch {
	case errors.Is(err, errMalformedCheckpoint):
		l.logger.Warn().Err(err).Msg("wal: ignoring damaged checkpoint")
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return off, ok, nil
}

// dropSegments closes and removes segments [from, to).
func (l *Log) dropSegments(from, to int, reason string) error {
	for _, s := range l.segments[from:to] {
		size := int64(-1)
		if fi, err := os.Stat(s.logPath()); err == nil {
			size = fi.Size()
		}
		l.logger.Warn().Str("file", s.logPath()).Int64("bytes", size).Str("reason", reason).Msg("wal: removing segment")
		l.indexes.drop(s)
		if err := s.file.Close(); err != nil {
			return fmt.Errorf("%w: close %s: %w", ErrStorage, s.logPath(), err)
		}
		if err := s.removeFiles(); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	l.segments = append(l.segments[:from:from], l.segments[to:]...)
	if to > from {
		l.dirDirty = true
	}
	return nil
}

// loadTrusted loads a sealed segment below the recovery point, which ends where the next
// segment (at nextBase) begins. Its indexes are read from disk; if they are missing or
// inconsistent they are rebuilt by a rescan, which must then find the segment intact:
// damage below the recovery point is not a torn write, and cutting there would throw
// away data a Sync had made durable, so Open fails instead. The rebuilt index files are
// written by the next Sync, as those of segments rescanned above the recovery point are:
// written here, on a full disk, they failed Open, and the partition's intact records
// could not be read until there was room again (every request rescanning the segment).
func (l *Log) loadTrusted(s *segment, nextBase int64) error {
	err := s.loadIndexes(nextBase)
	if err == nil {
		l.handOver(s)
		return nil
	}
	l.logger.Warn().Err(err).Str("file", s.logPath()).Msg("wal: rebuilding index")
	var ignored epochCache
	res, err := l.rescan(s, &ignored)
	if err != nil {
		return err
	}
	if res.problem != "" || !continuesAt(s.next, nextBase, l.cleanedTo) {
		return fmt.Errorf("%w: %w: %s is damaged below the recovery point (at position %d: %s; ends at offset %d, next segment starts at %d)",
			ErrStorage, ErrDamaged, s.logPath(), res.validSize, res.problem, s.next, nextBase)
	}
	s.next = nextBase
	s.appendTimeEntry()
	l.unsynced = append(l.unsynced, s)
	return nil
}

// loadIndexes reads a sealed segment's index files and checks them against the segment.
func (s *segment) loadIndexes(nextBase int64) error {
	fi, err := os.Stat(s.logPath())
	if err != nil {
		return err
	}
	span := nextBase - s.base
	if span < 1 || span-1 > maxRelativeOffset || fi.Size() < batch.HeaderSize {
		return fmt.Errorf("segment of %d bytes cannot hold offsets [%d, %d)", fi.Size(), s.base, nextBase)
	}
	raw, err := os.ReadFile(s.indexPath())
	if err != nil {
		return err
	}
	index, err := decodeOffsetIndex(raw, fi.Size(), uint32(span-1))
	if err != nil {
		return err
	}
	raw, err = os.ReadFile(s.timeIndexPath())
	if err != nil {
		return err
	}
	times, err := decodeTimeIndex(raw, uint32(span-1))
	if err != nil {
		return err
	}
	s.size, s.next, s.index, s.timeIndex = fi.Size(), nextBase, index, times
	if n := len(times); n > 0 {
		s.maxTS, s.maxTSOff = times[n-1].ts, s.base+int64(times[n-1].rel)
	}
	return nil
}

type scanResult struct {
	fileSize  int64
	validSize int64  // bytes of intact batches from the start
	problem   string // why the scan stopped before fileSize; empty if it did not
}

// recoveryChunk is how much of a segment a rescan reads at a time.
const recoveryChunk = 1 << 20

// rescan reads s from the start, checking every batch (length, CRC-32C, base offset equal
// to the previous batch's last offset + 1, starting at the segment base) and rebuilding
// its in-memory state. New leader epochs seen are added to hints.
func (l *Log) rescan(s *segment, hints *epochCache) (scanResult, error) {
	fi, err := os.Stat(s.logPath())
	if err != nil {
		return scanResult{}, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	res := scanResult{fileSize: fi.Size()}
	s.resetState()
	r := chunkReader{f: s.file, size: res.fileSize}
	var first batch.Header
	for pos := int64(0); pos < res.fileSize; {
		b, problem, err := r.batchAt(pos)
		if err != nil {
			return res, fmt.Errorf("%w: read %s: %w", ErrStorage, s.logPath(), err)
		}
		if problem == "" {
			problem = s.checkNext(b, pos, l.cleanedTo)
		}
		if problem != "" {
			res.problem = problem
			break
		}
		h, _ := batch.ParseHeader(b)
		if pos == 0 {
			first = h
		}
		s.record(h, pos, l.cfg.IndexIntervalBytes)
		*hints, _ = hints.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		pos += int64(len(b))
	}
	res.validSize = s.size
	s.rollBase = rollBaseAtOpen(first, s.size, time.Now())
	return res, nil
}

// checkNext checks the batch b found at pos continues s; it returns what is wrong, if
// anything.
func (s *segment) checkNext(b []byte, pos, cleanedTo int64) string {
	h, err := batch.CheckIntegrity(b)
	switch {
	case err != nil:
		return err.Error()
	case !continuesAt(s.next, h.BaseOffset, cleanedTo):
		return fmt.Sprintf("base offset %d where %d was due", h.BaseOffset, s.next)
	case h.LastOffset()-s.base > maxRelativeOffset || pos+int64(len(b)) > maxSegmentPosition:
		return "batch beyond the segment's addressable range"
	}
	return ""
}

// rollBaseAtOpen estimates when a reopened segment started, for SegmentMs: its first
// batch's timestamp if plausible, otherwise now. Restarting thus never makes a segment
// roll early, and a segment whose clock was wrong rolls SegmentMs after the restart.
func rollBaseAtOpen(first batch.Header, size int64, now time.Time) time.Time {
	if size == 0 || first.MaxTimestamp <= 0 || first.MaxTimestamp > now.UnixMilli() {
		return now
	}
	return time.UnixMilli(first.MaxTimestamp)
}

// rescanHeaders rebuilds s's in-memory state from the batch headers below limit, trusting
// the data (no CRC check): TruncateTo uses it on a segment it has just cut at a boundary.
func (s *segment) rescanHeaders(limit int64, indexInterval int) error {
	for pos := int64(0); pos < limit; {
		h, err := s.readHeader(pos, limit)
		if err != nil {
			return err
		}
		s.record(h, pos, indexInterval)
		pos += int64(h.Size())
	}
	return nil
}

// recoverEpochs reconciles the leader-epoch checkpoint with the recovered log: entries
// beyond the log end go, epochs found in rescanned segments are added, and a missing or
// damaged checkpoint is rebuilt from every batch header. One that cannot be read fails the
// open (ErrStorage), as in readOffsetHint.
func (l *Log) recoverEpochs(hints epochCache) error {
	stored, ok, err := readEpochCheckpoint(l.dir)
	if err != nil && !errors.Is(err, errMalformedCheckpoint) {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	epochs := stored
	if err != nil || !ok {
		if err != nil || l.sizeLocked() > 0 {
			l.logger.Warn().AnErr("checkpoint", err).Msg("wal: rebuilding leader epoch cache from the log")
		}
		epochs = nil
		for _, s := range l.segments {
			if err := s.rescanEpochs(&epochs); err != nil {
				l.logger.Error().Err(err).Msg("wal: rebuilding leader epoch cache")
			}
		}
	} else {
		epochs = epochs.truncateFromEnd(l.leo)
		for _, e := range hints {
			epochs, _ = epochs.assign(e.Epoch, e.StartOffset)
		}
	}
	l.epochs = epochs.truncateFromStart(l.logStart)
	// A new, empty log needs no checkpoint yet (a missing one reads as empty): writing one
	// cost every partition's creation an fsync, a rename and a directory fsync.
	empty := len(l.epochs) == 0 && l.sizeLocked() == 0
	if err != nil || (ok && !slices.Equal(stored, l.epochs)) || (!ok && !empty) {
		if err := writeCheckpoint(l.dir, epochCheckpoint, l.epochs.encode()); err != nil {
			l.logger.Error().Err(err).Msg("wal: cannot persist leader epoch cache")
		}
	}
	return nil
}

// readEpochCheckpoint reads the leader-epoch checkpoint: (nil, false, nil) if missing.
func readEpochCheckpoint(dir string) (epochCache, bool, error) {
	lines, ok, err := readCheckpoint(dir, epochCheckpoint)
	if err != nil || !ok {
		return nil, false, err
	}
	c, err := decodeEpochs(lines)
	return c, err == nil, err
}

// rescanEpochs adds the leader epochs of s's batches to c, reading headers only.
func (s *segment) rescanEpochs(c *epochCache) error {
	for pos := int64(0); pos < s.size; {
		h, err := s.readHeader(pos, s.size)
		if err != nil {
			return err
		}
		*c, _ = c.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		pos += int64(h.Size())
	}
	return nil
}

// chunkReader reads a file sequentially in large chunks for rescans.
type chunkReader struct {
	f     segmentFile
	size  int64
	buf   []byte
	start int64 // file position of buf[0]
}

// batchAt returns the whole batch at pos, or why there is no intact batch there.
func (r *chunkReader) batchAt(pos int64) (b []byte, problem string, err error) {
	if r.size-pos < batch.HeaderSize {
		return nil, fmt.Sprintf("%d bytes at the end, too few for a batch header", r.size-pos), nil
	}
	hb, err := r.at(pos, batch.HeaderSize)
	if err != nil {
		return nil, "", err
	}
	h, _ := batch.ParseHeader(hb)
	if h.Size() < batch.HeaderSize || int64(h.Size()) > r.size-pos {
		return nil, fmt.Sprintf("batch length %d with %d bytes left in the file", h.BatchLength, r.size-pos), nil
	}
	b, err = r.at(pos, h.Size())
	return b, "", err
}

// at returns n bytes at pos, which the caller knows lie within the file.
func (r *chunkReader) at(pos int64, n int) ([]byte, error) {
	if pos >= r.start && pos+int64(n) <= r.start+int64(len(r.buf)) {
		return r.buf[pos-r.start:][:n], nil
	}
	want := int(min(int64(max(n, recoveryChunk)), r.size-pos))
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	if _, err := r.f.ReadAt(r.buf, pos); err != nil {
		return nil, err
	}
	r.start = pos
	return r.buf[:n], nil
}
