package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Files of the cleaner.
const (
	// cleanedSuffix marks a cleaned segment not yet swapped in: "<base>.log.cleaned".
	cleanedSuffix = ".cleaned"
	// cleanerCheckpoint holds how far the log has been cleaned (Kafka keeps the same
	// offset in its cleaner-offset-checkpoint, one per log directory).
	cleanerCheckpoint = "cleaner-offset-checkpoint"
	// cleanSwapManifest names a swap in progress: the offset range whose segments the
	// cleaned files replace, the new cleaner checkpoint, and the cleaned files' bases. It
	// is written (atomically) before any segment file is touched and removed once the
	// swap is complete, so Open can finish a swap a crash interrupted.
	cleanSwapManifest = "cleaner-swap"
)

// cleanSwap is the content of the swap manifest.
type cleanSwap struct {
	from, to  int64 // segments with a base in [from, to) are replaced
	cleanedTo int64
	outputs   []int64 // bases of the cleaned files
}

func (m cleanSwap) encode() []string {
	lines := []string{fmt.Sprintf("%d %d %d", m.from, m.to, m.cleanedTo)}
	for _, b := range m.outputs {
		lines = append(lines, strconv.FormatInt(b, 10))
	}
	return lines
}

func decodeCleanSwap(lines []string) (cleanSwap, error) {
	var m cleanSwap
	if len(lines) == 0 {
		return m, fmt.Errorf("%w %s: empty", errMalformedCheckpoint, cleanSwapManifest)
	}
	if _, err := fmt.Sscanf(lines[0], "%d %d %d", &m.from, &m.to, &m.cleanedTo); err != nil || m.from < 0 || m.to < m.from {
		return m, fmt.Errorf("%w %s: bad range %q", errMalformedCheckpoint, cleanSwapManifest, lines[0])
	}
	for _, line := range lines[1:] {
		b, err := strconv.ParseInt(line, 10, 64)
		if err != nil || b < m.from || b >= m.to {
			return m, fmt.Errorf("%w %s: bad output %q", errMalformedCheckpoint, cleanSwapManifest, line)
		}
		m.outputs = append(m.outputs, b)
	}
	return m, nil
}

// swapCleaned replaces r's sources with its outputs. Once the manifest is written, a
// failure closes the log: reopening it completes the swap.
//
// The swap proper holds the log's locks, briefly: the segments change in memory, the
// sources are closed, and their files renamed out of the way (".deleted") and the
// cleaned files into place, all renames, so that no read sees a mix, nor opens a file by
// a name that is being changed (sealed segments open their files on use, by name). The
// flushes come after, and the old files are unlinked in the background, as retention
// unlinks segments: freeing a large file's blocks takes long.
func (l *Log) swapCleaned(r *CleanResult, rangeEnd int64) error {
	start := time.Now()
	m := cleanSwap{from: r.sources[0].base, to: rangeEnd, cleanedTo: max(l.cleanedTo, r.cleanedTo)}
	for _, o := range r.outputs {
		m.outputs = append(m.outputs, o.base)
	}
	first := rangeEnd // the base of the log's first segment after the swap
	if len(m.outputs) > 0 {
		first = m.outputs[0]
	}
	if first > l.logStart {
		// No segment will begin at the log start any more (the clean removed every record
		// of its first segments): record it, or Open would start the log at the first
		// segment left, and consumers committed below would be out of range.
		if err := writeOffsetCheckpoint(l.dir, logStartCheckpoint, l.logStart); err != nil {
			r.removeOutputs()
			return fmt.Errorf("%w: finish clean: %w", ErrStorage, err)
		}
	}
	if err := writeCheckpoint(l.dir, cleanSwapManifest, m.encode()); err != nil {
		r.removeOutputs()
		return fmt.Errorf("%w: finish clean: %w", ErrStorage, err)
	}

	l.syncMu.Lock()
	l.fileMu.Lock()
	l.mu.Lock()
	segs := append(append([]*segment(nil), r.outputs...), l.segments[len(r.sources):]...)
	for i := range r.outputs {
		segs[i].next = segs[i+1].base // a sealed segment reaches up to the next one
	}
	l.segments = segs
	// Sources were below the recovery point, so among the segments a Sync has yet to
	// flush only when Open rebuilt their indexes (a Sync writes those); they leave them,
	// and the outputs join them: the next Sync writes their index files, off the owner
	// goroutine (until then, or after a crash, Open rebuilds them).
	l.unsynced = append(without(l.unsynced, r.sources), r.outputs...)
	l.cleanedTo = m.cleanedTo
	l.changes++
	l.mu.Unlock()
	var closeErr error
	for _, s := range r.sources {
		l.indexes.drop(s)
		closeErr = errors.Join(closeErr, s.file.Close())
	}
	err := l.swapFiles(m)
	if err != nil {
		// The log is closed (ErrClosed says so to the caller): reopening it completes the
		// swap from the manifest.
		err = l.fail(fmt.Errorf("finish clean: %w: %w", ErrClosed, err))
	}
	l.fileMu.Unlock()
	l.syncMu.Unlock()
	if err != nil {
		return err
	}
	if closeErr != nil {
		l.logger.Warn().Err(closeErr).Msg("wal: close cleaned-away segments")
	}
	swapped := time.Since(start)

	if err := l.commitSwap(m); err != nil {
		// The files are in place; Open redoes the rest from the manifest.
		l.logger.Error().Err(err).Msg("wal: finish clean: the cleaned segments are in place, Open completes the rest")
	}
	l.deletions.Add(1)
	go func() {
		defer l.deletions.Done()
		if err := l.removeDeleted(); err != nil {
			l.logger.Warn().Err(err).Msg("wal: remove cleaned-away segment files; Open retries")
		}
	}()
	r.Stats.CleanedTo = m.cleanedTo
	l.logger.Debug().Dur("swap_locked", swapped).Int("segments", len(r.sources)).Int("cleaned_segments", len(r.outputs)).Msg("wal: swapped cleaned segments")
	return nil
}

// deletedSuffix marks a segment file the cleaner replaced, to be unlinked.
const deletedSuffix = ".deleted"

// swapFiles renames the files m names, from whatever point a crash left them at: every
// segment data file in [m.from, m.to) is renamed out of the way (".deleted") except the
// cleaned ones already renamed into place (an output whose ".cleaned" file is gone), and
// the ".cleaned" files are renamed into place. Index files of the range go (small files);
// the new segments' are written afterwards, or rebuilt by Open. Nothing is flushed here.
func (l *Log) swapFiles(m cleanSwap) error {
	pending := map[int64]bool{}
	outputs := map[int64]bool{}
	for _, b := range m.outputs {
		outputs[b] = true
		if _, err := os.Stat(segmentStem(l.dir, b) + logSuffix + cleanedSuffix); err == nil {
			pending[b] = true
		}
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("%w: list directory: %w", ErrStorage, err)
	}
	for _, e := range entries {
		base, suffix, ok := parseSegmentName(e.Name())
		if !ok || base < m.from || base >= m.to {
			continue
		}
		path := filepath.Join(l.dir, e.Name())
		switch {
		case suffix == logSuffix && outputs[base] && !pending[base]:
			// already the cleaned segment
		case suffix == logSuffix:
			if err := os.Rename(path, path+deletedSuffix); err != nil {
				return fmt.Errorf("%w: set aside cleaned-away %s: %w", ErrStorage, e.Name(), err)
			}
		case suffix == indexSuffix || suffix == timeIndexSuffix:
			if err := removeIfExists(path); err != nil {
				return fmt.Errorf("%w: remove cleaned-away %s: %w", ErrStorage, e.Name(), err)
			}
		}
	}
	for b := range pending {
		path := segmentStem(l.dir, b) + logSuffix
		if err := os.Rename(path+cleanedSuffix, path); err != nil {
			return fmt.Errorf("%w: swap in %s: %w", ErrStorage, path, err)
		}
	}
	return nil
}

// commitSwap makes a swap's renames durable, records the new cleaner checkpoint and
// removes the manifest: the swap is complete.
func (l *Log) commitSwap(m cleanSwap) error {
	if err := syncDir(l.dir); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := writeOffsetCheckpoint(l.dir, cleanerCheckpoint, m.cleanedTo); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if err := removeIfExists(filepath.Join(l.dir, cleanSwapManifest)); err != nil {
		return fmt.Errorf("%w: remove %s: %w", ErrStorage, cleanSwapManifest, err)
	}
	if err := syncDir(l.dir); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return nil
}

// removeDeleted unlinks the segment files swaps set aside.
func (l *Log) removeDeleted() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("%w: list directory: %w", ErrStorage, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), deletedSuffix) {
			if err := removeIfExists(filepath.Join(l.dir, e.Name())); err != nil {
				return fmt.Errorf("%w: remove %s: %w", ErrStorage, e.Name(), err)
			}
		}
	}
	return nil
}

// recoverClean runs first in Open: it completes a swap a crash interrupted, removes
// cleaned files that never got swapped in and replaced files not yet unlinked, and loads
// the cleaner checkpoint.
func (l *Log) recoverClean() error {
	lines, ok, err := readCheckpoint(l.dir, cleanSwapManifest)
	var m cleanSwap
	if err == nil && ok {
		m, err = decodeCleanSwap(lines)
	}
	switch {
	case errors.Is(err, errMalformedCheckpoint):
		// writeCheckpoint replaces the manifest atomically, so this is damage, not a
		// crash; the swap it named cannot be completed safely, nor undone.
		return fmt.Errorf("%w: %w: %w", ErrStorage, ErrDamaged, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	cleanedTo, _, err := l.readOffsetHint(cleanerCheckpoint)
	if err != nil {
		return err
	}
	if ok {
		m.cleanedTo = max(m.cleanedTo, cleanedTo)
		l.logger.Warn().Int64("from", m.from).Int64("to", m.to).Msg("wal: completing a clean interrupted by a crash")
		if err := l.swapFiles(m); err != nil {
			return err
		}
		if err := l.commitSwap(m); err != nil {
			return err
		}
		cleanedTo = m.cleanedTo
	}
	l.cleanedTo = cleanedTo

	if err := l.removeDeleted(); err != nil {
		return err
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("%w: list directory: %w", ErrStorage, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), cleanedSuffix) {
			if err := removeIfExists(filepath.Join(l.dir, e.Name())); err != nil {
				return fmt.Errorf("%w: remove leftover %s: %w", ErrStorage, e.Name(), err)
			}
			l.logger.Info().Str("file", e.Name()).Msg("wal: removed unfinished cleaned segment")
		}
	}
	return nil
}

// continuesAt reports whether what follows offset next in the log may start at base:
// right there, or after a gap the cleaner left, which lies wholly below the cleaner
// checkpoint cleanedTo. Anywhere else a gap means data that does not belong (the
// leftovers of an interrupted truncation, say), which recovery cuts.
func continuesAt(next, base, cleanedTo int64) bool {
	return base == next || (base > next && base <= cleanedTo)
}

// lowerCleanedTo brings the cleaner checkpoint down to a truncated log's end, as Kafka
// does: records appended there later are dirty. A failure to persist it is logged: the
// checkpoint on disk then only lets the next clean treat those records as clean.
func (l *Log) lowerCleanedTo(end int64) {
	if l.cleanedTo <= end {
		return
	}
	l.mu.Lock()
	l.cleanedTo = end
	l.mu.Unlock()
	if err := writeOffsetCheckpoint(l.dir, cleanerCheckpoint, end); err != nil {
		l.logger.Error().Err(err).Msg("wal: cannot persist the cleaner checkpoint")
	}
}
