package wal

import (
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
	_, pos, found, err := seg.findBatch(offset, seg.startPosition(offset), seg.size)
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
	if err := seg.file.Truncate(pos); err != nil {
		return fmt.Errorf("%w: truncate %s to %d: %w", ErrStorage, seg.logPath(), pos, err)
	}
	if err := seg.file.Datasync(); err != nil {
		return fmt.Errorf("%w: sync %s: %w", ErrStorage, seg.logPath(), err)
	}
	cut := l.segments[i+1:]
	for _, s := range cut {
		if err := s.file.Close(); err != nil {
			l.logger.Warn().Err(err).Str("file", s.logPath()).Msg("wal: close truncated segment")
		}
		if err := s.removeFiles(); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	// The sealed indexes of seg no longer match its data. As the active segment it is
	// rescanned by Open and gets fresh index files when next sealed, so stale ones would
	// only mislead a reader of the directory.
	for _, p := range []string{seg.indexPath(), seg.timeIndexPath()} {
		if err := removeIfExists(p); err != nil {
			l.logger.Warn().Err(err).Str("file", p).Msg("wal: cannot remove stale index")
		}
	}
	if err := syncDir(l.dir); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}

	rebuilt := newSegment(seg.base, seg.stem, seg.file)
	if err := rebuilt.rescanHeaders(pos, l.cfg.IndexIntervalBytes); err != nil {
		return fmt.Errorf("truncate to %d: %w", offset, err)
	}
	rebuilt.rollBase, rebuilt.syncedSize = seg.rollBase, pos
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
	for _, s := range l.segments {
		if err := s.file.Close(); err != nil {
			l.logger.Warn().Err(err).Str("file", s.logPath()).Msg("wal: close truncated segment")
		}
		if err := s.removeFiles(); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	old := l.segments
	stem := segmentStem(l.dir, offset)
	f, err := l.openFile(stem+logSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		// The log has no segment left; the owner must reopen it.
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		return fmt.Errorf("%w: create segment at %d: %w", ErrStorage, offset, err)
	}
	if err := writeOffsetCheckpoint(l.dir, logStartCheckpoint, offset); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	l.mu.Lock()
	l.segments = []*segment{newSegment(offset, stem, f)}
	l.unsynced, l.dirDirty = nil, true
	l.leo, l.logStart = offset, offset
	l.changes++
	l.mu.Unlock()
	l.logger.Warn().Int64("offset", offset).Int("segments_removed", len(old)).Msg("wal: truncated log fully")

	l.mu.Lock()
	l.epochs = nil
	l.mu.Unlock()
	if err := writeCheckpoint(l.dir, epochCheckpoint, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return l.setRecoveryPoint(offset)
}
