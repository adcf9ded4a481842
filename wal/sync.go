package wal

import "fmt"

// Sync makes everything appended before the call durable: it flushes the segments sealed
// since the last Sync (data, then their index files), the directory if files were created
// or removed, and the active segment. It is safe to call from a goroutine other than the
// owner's, concurrently with appends, which is how group commit works: while one Sync runs,
// appends pile up, and the next Sync makes them all durable with one fdatasync.
//
// After a failed Sync the sealed segments stay queued for the next Sync. When the failure
// was the data's own fdatasync (ErrFlushFailed) that data may or may not be on disk, and
// retrying does not settle it.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	sealed, dirDirty := l.unsynced, l.dirDirty
	l.unsynced, l.dirDirty = nil, false
	active := l.active()
	target := active.size
	l.mu.Unlock()

	if err := l.syncSealed(sealed, dirDirty, active.base); err != nil {
		l.mu.Lock()
		l.unsynced = append(sealed, l.unsynced...)
		l.dirDirty = true
		l.mu.Unlock()
		return err
	}
	if target > active.syncedSize {
		if err := active.file.Datasync(); err != nil {
			return fmt.Errorf("%w: %w: sync %s: %w", ErrStorage, ErrFlushFailed, active.logPath(), err)
		}
		active.syncedSize = target
	}
	return nil
}

// StartWriteback asks the kernel to start writing the active segment's bytes appended
// since the last call (or Sync) to disk, without waiting. Calling it every few MB keeps
// the page cache from piling up a second's worth of dirty data that the next Sync then
// flushes in one burst, stalling the appends that run meanwhile. Like Sync it may run
// concurrently with appends. It never makes anything durable.
func (l *Log) StartWriteback() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	active := l.active()
	// Whole pages only: the partly filled last page is where the next append writes, and
	// an append into a page the kernel is writing back waits for it.
	end := active.size &^ int64(l.pageSize-1)
	l.mu.RUnlock()
	from := max(active.writtenBack, active.syncedSize)
	if end <= from {
		return nil
	}
	if err := active.file.StartWriteback(from, end-from); err != nil {
		return fmt.Errorf("%w: start writeback of %s: %w", ErrStorage, active.logPath(), err)
	}
	active.writtenBack = end
	return nil
}

// syncSealed flushes sealed segments with their indexes and the directory, then moves the
// recovery point to the active segment so that Open trusts them without a rescan.
func (l *Log) syncSealed(sealed []*segment, dirDirty bool, activeBase int64) error {
	for _, s := range sealed {
		if s.indexed {
			continue // flushed with its indexes by a Sync that failed later on
		}
		if err := s.file.Datasync(); err != nil {
			return fmt.Errorf("%w: %w: sync %s: %w", ErrStorage, ErrFlushFailed, s.logPath(), err)
		}
		s.syncedSize = s.size
		if err := s.writeIndexFiles(); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
		l.handOver(s) // durable on disk: its indexes may leave memory
	}
	if len(sealed) > 0 {
		// Writing the checkpoint flushes the directory too.
		return l.setRecoveryPoint(activeBase)
	}
	if dirDirty {
		if err := syncDir(l.dir); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	return nil
}

// setRecoveryPoint persists a new recovery point. Callers hold syncMu.
func (l *Log) setRecoveryPoint(off int64) error {
	if err := writeOffsetCheckpoint(l.dir, recoveryPointCheckpoint, off); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	l.recoveryPoint = off
	l.durableTo.Store(off)
	return nil
}
