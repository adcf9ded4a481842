package wal

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch"
)

// Log is one partition's log: a directory of segments. See the package documentation for
// the file format, the concurrency contract and the durability guarantees.
type Log struct {
	dir      string
	logger   zerolog.Logger
	openFile openFileFunc
	files    *FileCache  // bounds the sealed segments' open files; may be shared
	indexes  *IndexCache // bounds the sealed segments' indexes in memory; may be shared
	pageSize int         // StartWriteback kicks whole pages only

	// Lock order: syncMu, then fileMu, then mu.
	//
	// syncMu serializes Sync with the operations that remove or shrink files it may be
	// flushing (truncation, deletion, Close); it also guards recoveryPoint and every
	// segment's syncedSize.
	syncMu sync.Mutex
	// fileMu is held for reading while a reader touches segment files, and for writing
	// while the owner closes, removes or shrinks them, so no read sees a file vanish.
	fileMu sync.RWMutex
	// mu guards the published state below and in each segment. The owner goroutine writes
	// it; it may read it without the lock, since nobody else writes.
	mu       sync.RWMutex
	cfg      Config
	segments []*segment // ascending by base; the last one is active
	logStart int64
	leo      int64 // log end offset: the next offset to assign
	epochs   epochCache
	unsynced []*segment // sealed since the last Sync; Sync flushes them and writes their indexes
	dirDirty bool       // files were created or removed since the last Sync
	changes  uint64     // bumped by truncation and deletion, so a long scan notices them
	closed   bool

	recoveryPoint int64 // segments wholly below it are durable with their indexes; syncMu

	noPrealloc bool // the file system cannot reserve blocks ahead of appends; owner-only

	// cleanedTo is the cleaner checkpoint (compact.go): the log below it has been cleaned,
	// so its offsets may have gaps. Written by the owner with mu held.
	cleanedTo int64
	cleaning  bool // a CleanPlan is out; owner-only
	// durableTo mirrors recoveryPoint for PlanClean, which must not wait for syncMu
	// (held through a Sync's fdatasyncs) on the owner goroutine.
	durableTo atomic.Int64

	// Segments deleted by retention or DeleteRecords have their files closed and removed
	// in the background by deleteFiles (tests replace it); Close waits for them.
	deletions   sync.WaitGroup
	deleteFiles func(*segment) error
}

// Option changes how Open opens a log.
type Option func(*Log)

// WithIndexCache keeps the log's sealed segments' indexes in c, which bounds the memory
// they take across every log sharing it. Without it the log has a cache of its own with
// no bound.
func WithIndexCache(c *IndexCache) Option {
	return func(l *Log) { l.indexes = c }
}

// WithFileCache makes the log open its sealed segments' files through c, which bounds how
// many are open across every log sharing it. Without it the log has a cache of its own
// with no bound.
func WithFileCache(c *FileCache) Option {
	return func(l *Log) { l.files = c }
}

// Open opens (creating if needed) the log in dir, recovering it from whatever state a crash
// left it in: see the package documentation.
func Open(dir string, cfg Config, logger zerolog.Logger, opts ...Option) (*Log, error) {
	return open(dir, cfg, logger, openOSFile, opts...)
}

func open(dir string, cfg Config, logger zerolog.Logger, openFile openFileFunc, opts ...Option) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	l := &Log{
		dir:         dir,
		logger:      logger.With().Str("dir", dir).Logger(),
		openFile:    openFile,
		pageSize:    os.Getpagesize(),
		cfg:         cfg.normalized(),
		deleteFiles: closeAndRemove,
	}
	for _, o := range opts {
		o(l)
	}
	if l.files == nil {
		l.files = NewFileCache(0)
	}
	if l.indexes == nil {
		l.indexes = NewIndexCache(0)
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	return l, nil
}

// createPinned opens path with flag (creating it) for a new active segment, which keeps
// its file open.
func (l *Log) createPinned(path string, flag int) (*cachedFile, error) {
	f, err := l.openFile(path, flag)
	if err != nil {
		return nil, err
	}
	return l.files.newPinnedFile(path, f, l.openFile), nil
}

// active is the segment appends go to.
func (l *Log) active() *segment { return l.segments[len(l.segments)-1] }

// Append writes one batch, already checked with batch.Validate, at the end of the log. It
// patches the batch's base offset and partition leader epoch in place (both lie outside
// the CRC), rolls a new segment first if size or age require it, and returns the base
// offset. The batch is visible to Read once Append returns; it is durable after the next
// Sync. On a failed write nothing of the batch remains in the log.
func (l *Log) Append(b []byte, leaderEpoch int32, now time.Time) (int64, error) {
	h, err := batch.ParseHeader(b)
	if err == nil && (h.Size() != len(b) || h.LastOffsetDelta < 0) {
		err = fmt.Errorf("%w: batch length %d for %d bytes, last offset delta %d", batch.ErrCorrupt, h.BatchLength, len(b), h.LastOffsetDelta)
	}
	if err != nil {
		return -1, fmt.Errorf("append: %w", err)
	}
	if l.closed {
		return -1, ErrClosed
	}
	if last, ok := l.epochs.latest(); ok && leaderEpoch >= 0 && leaderEpoch < last.Epoch {
		return -1, fmt.Errorf("append with epoch %d: %w (%d)", leaderEpoch, ErrStaleEpoch, last.Epoch)
	}
	base := l.leo
	batch.SetBaseOffset(b, base)
	batch.SetPartitionLeaderEpoch(b, leaderEpoch)
	h.BaseOffset, h.PartitionLeaderEpoch = base, leaderEpoch
	if err := l.appendBatches(b, []batch.Header{h}, now); err != nil {
		return -1, err
	}
	return base, nil
}

// AppendReplicated writes batches a follower fetched from its leader: they already carry
// their offsets and leader epochs and must continue the log at EndOffset. Each is checked
// with batch.CheckIntegrity (the leader validated the records) before anything is written.
// It returns the last offset now in the log. On a failed write a prefix of the batches may
// have been appended; EndOffset says how far.
func (l *Log) AppendReplicated(batches []byte) (int64, error) {
	if l.closed {
		return -1, ErrClosed
	}
	parts, err := batch.Split(batches)
	if err != nil {
		return -1, fmt.Errorf("append replicated: %w", err)
	}
	hs := make([]batch.Header, len(parts))
	next := l.leo
	latest, _ := l.epochs.latest()
	for i, p := range parts {
		h, err := batch.CheckIntegrity(p)
		if err != nil {
			return -1, fmt.Errorf("append replicated batch %d: %w", i, err)
		}
		if h.BaseOffset != next {
			return -1, fmt.Errorf("append replicated batch %d: %w: base offset %d, log end %d", i, ErrOffsetMismatch, h.BaseOffset, next)
		}
		if h.PartitionLeaderEpoch >= 0 && h.PartitionLeaderEpoch < latest.Epoch {
			return -1, fmt.Errorf("append replicated batch %d with epoch %d: %w (%d)", i, h.PartitionLeaderEpoch, ErrStaleEpoch, latest.Epoch)
		}
		latest.Epoch = max(latest.Epoch, h.PartitionLeaderEpoch)
		hs[i], next = h, h.LastOffset()+1
	}
	if len(parts) > 0 {
		if err := l.appendBatches(batches, hs, time.Now()); err != nil {
			return -1, err
		}
	}
	return l.leo - 1, nil
}

// appendBatches writes batches (concatenated in data, described by hs, offsets already
// patched) to the end of the log: as few writes as possible, rolling segments where needed.
func (l *Log) appendBatches(data []byte, hs []batch.Header, now time.Time) error {
	if err := l.assignEpochs(hs); err != nil {
		return err
	}
	for i, off := 0, 0; i < len(hs); {
		seg := l.active()
		if l.needsRoll(seg, hs[i], now) {
			if err := l.roll(now); err != nil {
				return l.undoEpochs(err)
			}
			continue
		}
		// Take every following batch that still fits in this segment.
		j, size := i+1, seg.size+int64(hs[i].Size())
		for j < len(hs) && seg.fits(hs[j], size, l.cfg.SegmentBytes) {
			size += int64(hs[j].Size())
			j++
		}
		n := int(size - seg.size)
		if err := l.write(seg, data[off:off+n], hs[i:j], now); err != nil {
			return l.undoEpochs(err)
		}
		i, off = j, off+n
	}
	return nil
}

// needsRoll reports whether the batch h must start a new segment. An empty segment takes
// any batch, so an oversized batch still finds a home.
func (l *Log) needsRoll(seg *segment, h batch.Header, now time.Time) bool {
	if seg.size == 0 {
		return false
	}
	return !seg.fits(h, seg.size, l.cfg.SegmentBytes) || l.rollDue(seg, now)
}

func (l *Log) rollDue(seg *segment, now time.Time) bool {
	return l.cfg.SegmentMs > 0 && seg.size > 0 && now.Sub(seg.rollBase) >= l.cfg.SegmentMs
}

// write stores batches at the end of seg with one write and publishes them. A failed or
// short write is cut back off the file so no partial batch remains.
func (l *Log) write(seg *segment, data []byte, hs []batch.Header, now time.Time) error {
	pos := seg.size
	l.reserve(seg, pos+int64(len(data)))
	if _, err := seg.file.WriteAt(data, pos); err != nil {
		terr := seg.file.Truncate(pos)
		if terr == nil {
			seg.reserved = pos // the cut freed the blocks past it too
		} else {
			// Later writes overwrite the garbage from pos on; roll retries the cut before
			// the segment is sealed, and recovery would cut it after a crash.
			seg.garbageTail = true
			l.logger.Error().Err(terr).Str("file", seg.logPath()).Int64("position", pos).Msg("wal: cannot cut a failed write")
		}
		return fmt.Errorf("%w: write %d bytes to %s at %d: %w", ErrStorage, len(data), seg.logPath(), pos, err)
	}
	if pos == 0 {
		seg.rollBase = now
	}
	l.mu.Lock()
	for _, h := range hs {
		seg.record(h, pos, l.cfg.IndexIntervalBytes)
		pos += int64(h.Size())
	}
	l.leo = seg.next
	l.mu.Unlock()
	return nil
}

// roll seals the active segment and starts a new one at the log end offset. The sealed
// segment's files are flushed, and its indexes written, by the next Sync.
func (l *Log) roll(now time.Time) error {
	old := l.active()
	if old.garbageTail {
		// A sealed segment's file size is its data size (Open trusts it), so the bytes of
		// a failed write must go first.
		if err := old.file.Truncate(old.size); err != nil {
			return fmt.Errorf("%w: cut failed write from %s: %w", ErrStorage, old.logPath(), err)
		}
		old.garbageTail = false
		old.reserved = old.size
	}
	l.releaseReserve(old)
	stem := segmentStem(l.dir, l.leo)
	f, err := l.createPinned(stem+logSuffix, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("%w: roll segment: %w", ErrStorage, err)
	}
	seg := newSegment(l.leo, stem, f)
	l.mu.Lock()
	old.appendTimeEntry() // the last time entry of a sealed segment holds its max timestamp
	l.segments = append(l.segments, seg)
	l.unsynced = append(l.unsynced, old)
	l.dirDirty = true
	l.mu.Unlock()
	// Sealed: the file cache may close its file while idle, even before the Sync that
	// flushes it reopens it (a partition rolling tiny segments seals thousands a second).
	// Linux reports a writeback error that nobody has seen yet to the next fsync on the
	// file, whichever descriptor it comes through (since 4.16), so nothing is hidden.
	old.file.unpin()
	l.logger.Debug().Int64("base", seg.base).Int64("sealed_bytes", old.size).Msg("wal: rolled segment")
	return nil
}

// assignEpochs records new leader epochs among hs in the epoch cache, durably, before their
// batches are written: an entry with no batch yet is harmless (a new leader records its
// epoch at the log end as well), a batch whose epoch is missing from the cache is not.
func (l *Log) assignEpochs(hs []batch.Header) error {
	epochs, changed := l.epochs, false
	for _, h := range hs {
		var c bool
		epochs, c = epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		changed = changed || c
	}
	if !changed {
		return nil
	}
	if err := writeCheckpoint(l.dir, epochCheckpoint, epochs.encode()); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	l.mu.Lock()
	l.epochs = epochs
	l.mu.Unlock()
	return nil
}

// undoEpochs drops cache entries for batches a failed append did not write, then returns err.
func (l *Log) undoEpochs(err error) error {
	l.setEpochs(l.epochs.truncateFromEnd(l.leo))
	return err
}

// setEpochs replaces the epoch cache and persists it. A failure to persist is logged, not
// returned: the cache on disk is only a hint that Open checks against the log.
func (l *Log) setEpochs(c epochCache) {
	if slices.Equal(c, l.epochs) {
		return
	}
	l.mu.Lock()
	l.epochs = c
	l.mu.Unlock()
	if err := writeCheckpoint(l.dir, epochCheckpoint, c.encode()); err != nil {
		l.logger.Error().Err(err).Msg("wal: cannot persist leader epoch cache")
	}
}

// StartOffset is the first offset readable in the log (the log start offset).
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.logStart
}

// EndOffset is the offset the next appended record will get (the log end offset).
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.leo
}

// UnsyncedSealed is how many sealed segments no Sync has flushed with their index files
// yet. After an unclean stop Open leaves those it rescanned so: a Sync soon writes their
// index files (their indexes can then leave memory) and spares the next start rescanning
// them again.
func (l *Log) UnsyncedSealed() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.unsynced)
}

// Size is the number of bytes of batches in all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.sizeLocked()
}

func (l *Log) sizeLocked() int64 {
	var n int64
	for _, s := range l.segments {
		n += s.size
	}
	return n
}

// LeaderEpochs returns the leader-epoch cache, ascending.
func (l *Log) LeaderEpochs() []EpochEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]EpochEntry(nil), l.epochs...)
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch at or below epoch that
// the log knows and the offset where it ended (the next epoch's start offset, or the log
// end offset for the latest epoch). It returns (-1, -1) when the log knows no such epoch or
// epoch is newer than its latest one, as Kafka does.
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.leo)
}

// SetConfig changes the log's settings; they apply from the next operation.
func (l *Log) SetConfig(cfg Config) {
	l.mu.Lock()
	l.cfg = cfg.normalized()
	l.mu.Unlock()
}

// Close flushes the log (as Sync does), closes its files and waits for the removal of
// deleted segments still in progress.
func (l *Log) Close() error {
	err := l.Sync()
	if err == ErrClosed {
		return nil
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	if len(l.segments) > 0 {
		l.releaseReserve(l.active())
	}
	if cerr := l.closeFiles(); err == nil {
		err = cerr
	}
	l.deletions.Wait()
	return err
}

func (l *Log) closeFiles() error {
	var first error
	for _, s := range l.segments {
		l.indexes.drop(s)
		if err := s.file.Close(); err != nil && first == nil {
			first = fmt.Errorf("close %s: %w", s.logPath(), err)
		}
	}
	return first
}
