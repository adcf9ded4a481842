package wal

import (
	"errors"
	"fmt"
	"os"
)

// TruncateTo removes every batch at or after offset, as a follower does when its log has
// diverged from the leader's. Batches are removed whole: if offset falls inside a batch,
// that batch goes too and the log end lands on its base offset. An offset at or beyond the
// log end changes nothing; one below the first segment empties the log and restarts it at
// offset. The truncation is durable when TruncateTo returns.
func (l *Log) TruncateTo(offset int64) error {
	if l.closed {
		return ErrClosed
	}
	if offset < 0 {
		return fmt.Errorf("truncate to %d: %w", offset, ErrOffsetOutOfRange)
	}
	if offset >= l.leo {
		return nil
	}
	if offset < l.segments[0].base {
		return l.TruncateFullyAndStartAt(offset)
	}

	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.fileMu.Lock()
	defer l.fileMu.Unlock()

	i := l.segmentIndex(offset)
	seg := l.segments[i]
	start := int64(0)
	if seg.indexed {
		start = l.sealedPosition(seg, offset)
	} else {
		start = seg.startPosition(offset)
	}
	_, pos, found, err := seg.findBatch(offset, start, seg.size)
	if err != nil {
		return fmt.Errorf("truncate to %d: %w", offset, err)
	}
	// First make Open rescan seg and everything after it, so a crash halfway through the
	// changes below leaves a log that recovery cuts back consistently.
	if l.recoveryPoint > seg.base {
		if err := l.setRecoveryPoint(seg.base); err != nil {
			return err
		}
	}
	if !found { // offset lies past the segment's last batch: keep the segment whole
		pos = seg.size
	}
	if err := seg.file.pin(); err != nil { // it becomes the active segment
		return fmt.Errorf("%w: truncate to %d: %s: %w", ErrStorage, offset, seg.logPath(), err)
	}
	if err := seg.file.Truncate(pos); err != nil {
		return fmt.Errorf("%w: truncate %s to %d: %w", ErrStorage, seg.logPath(), pos, err)
	}
	// From here on the file no longer matches the in-memory state: a failure closes the
	// log, and reopening it recovers from what is on disk.
	rebuilt := newSegment(seg.base, seg.stem, seg.file)
	if err := rebuilt.rescanHeaders(pos, l.cfg.IndexIntervalBytes); err != nil {
		return l.fail(fmt.Errorf("truncate to %d: %w", offset, err))
	}
	if err := seg.file.Datasync(); err != nil {
		return l.fail(fmt.Errorf("%w: sync %s: %w", ErrStorage, seg.logPath(), err))
	}
	rebuilt.rollBase, rebuilt.syncedSize = seg.rollBase, pos
	cut := l.segments[i+1:]
	for _, s := range append([]*segment{seg}, cut...) {
		l.indexes.drop(s) // seg's object is replaced by rebuilt
	}
	l.mu.Lock()
	l.segments = append(l.segments[:i:i], rebuilt)
	l.unsynced = without(l.unsynced, append(cut, seg))
	l.leo = rebuilt.next
	l.logStart = min(l.logStart, l.leo)
	l.changes++
	l.mu.Unlock()
	l.logger.Warn().Int64("offset", offset).Int64("log_end", l.leo).Str("file", seg.logPath()).
		Int64("position", pos).Int("segments_removed", len(cut)).Msg("wal: truncated log")
	l.setEpochs(l.epochs.truncateFromEnd(l.leo))
	l.lowerCleanedTo(l.leo)

	// The sealed indexes of seg no longer match its data. As the active segment it is
	// rescanned by Open and gets fresh index files when next sealed, so stale ones would
	// only mislead. Files left behind by a failure here are cleaned up by Open.
	err = errors.Join(removeIfExists(seg.indexPath()), removeIfExists(seg.timeIndexPath()))
	for _, s := range cut {
		err = errors.Join(err, s.file.Close(), s.removeFiles())
	}
	if err == nil {
		err = syncDir(l.dir)
	}
	if err != nil {
		return fmt.Errorf("%w: truncate to %d: %w", ErrStorage, offset, err)
	}
	return nil
}

// TruncateFullyAndStartAt empties the log and restarts it at offset, which becomes both the
// log start and the log end offset: a follower does this when the leader's log starts
// beyond the follower's end. The leader-epoch cache is cleared.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if l.closed {
		return ErrClosed
	}
	if offset < 0 {
		return fmt.Errorf("truncate fully to %d: %w", offset, ErrOffsetOutOfRange)
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.fileMu.Lock()
	defer l.fileMu.Unlock()

	// Until the new start is recorded, a crash must leave whatever survives of the old
	// segments to a full rescan.
	if err := l.setRecoveryPoint(0); err != nil {
		return err
	}
	old := l.segments
	for _, s := range old {
		l.indexes.drop(s)
		if err := errors.Join(s.file.Close(), s.removeFiles()); err != nil {
			return l.fail(fmt.Errorf("%w: truncate fully: %w", ErrStorage, err))
		}
	}
	stem := segmentStem(l.dir, offset)
	f, err := l.createPinned(stem+logSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return l.fail(fmt.Errorf("%w: create segment at %d: %w", ErrStorage, offset, err))
	}
	l.mu.Lock()
	l.segments = []*segment{newSegment(offset, stem, f)}
	l.unsynced, l.dirDirty = nil, true
	l.leo, l.logStart = offset, offset
	l.epochs = nil
	l.changes++
	l.mu.Unlock()
	l.logger.Warn().Int64("offset", offset).Int("segments_removed", len(old)).Msg("wal: truncated log fully")

	err = writeOffsetCheckpoint(l.dir, logStartCheckpoint, offset)
	if err == nil {
		err = writeCheckpoint(l.dir, epochCheckpoint, nil)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	l.lowerCleanedTo(offset)
	return l.setRecoveryPoint(offset)
}

// fail closes a log whose files no longer match its in-memory state after a failed
// change; Open recovers it from the files. Callers hold syncMu and fileMu.
func (l *Log) fail(err error) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.closeFiles()
	l.logger.Error().Err(err).Msg("wal: log closed after a failed change; reopen it to recover")
	return fmt.Errorf("%w (log closed: reopen it to recover)", err)
}
