package storage

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// BoltOptions tunes OpenBolt. The zero value is what production uses.
type BoltOptions struct {
	// NoSync skips fsync on commit: a kill -9 still leaves a consistent file, but a power
	// loss may lose or corrupt it. For tests and benchmarks only.
	NoSync bool
	// TailCacheEntries and TailCacheBytes bound the in-memory cache of the newest
	// entries; 0 means the defaults.
	TailCacheEntries int
	TailCacheBytes   int64
}

const (
	defaultTailCacheEntries = 1024
	defaultTailCacheBytes   = 4 << 20
	// lockTimeout bounds the wait for bbolt's file lock, so a second node started on
	// the same data directory fails instead of hanging.
	lockTimeout = 2 * time.Second
)

// boltStorage is the durable backend. Concurrency: writes (Save, CreateSnapshot,
// Compact, Close) are serialised by writeMu and run their bbolt transaction without mu,
// so raft's reads are never blocked behind an fsync; the new state is published to st
// under mu only after the commit. A read transaction that begins between a commit and
// its publication would see data newer than st; view detects that through bbolt's
// transaction id and waits for the writer.
type boltStorage struct {
	db   *bolt.DB
	path string
	log  zerolog.Logger

	writeMu sync.Mutex
	failed  error // first failed write transaction; guarded by writeMu

	mu     sync.RWMutex
	st     boltState
	closed bool
}

// boltState is the in-memory picture of the committed file, what makes Term, FirstIndex,
// LastIndex and most Entries calls free of transactions.
type boltState struct {
	bounds    logBounds
	snapMeta  *raftpb.SnapshotMetadata // never nil; ConfState never nil
	snapBytes int64
	hs        *raftpb.HardState // nil until a non-empty hard state is saved
	terms     termRuns
	tail      tailCache
	logBytes  int64
	txid      int // bbolt transaction id of the commit this state describes
}

// termAt returns the term of entry i, answering from memory.
func (st *boltState) termAt(i uint64) (uint64, error) {
	if err := checkTerm(st.bounds, i); err != nil {
		return 0, err
	}
	if i == st.bounds.compacted {
		return st.bounds.compactedTerm, nil
	}
	return st.terms.termAt(i), nil
}

// OpenBolt opens (creating if needed) the raft log at path. It validates the whole file:
// a file of another schema version, a foreign bbolt file, or a log that violates its
// invariants is refused with an error wrapping ErrSchemaMismatch, ErrNotRaftLog or
// ErrCorrupt. Opening reads every entry once, so it costs time linear in the log's size.
func OpenBolt(path string, opts BoltOptions, log zerolog.Logger) (Storage, error) {
	start := time.Now()
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		NoSync:  opts.NoSync,
		// The freelist is rebuilt by scanning at open instead of being written on
		// every commit: fewer pages per Save, and compaction frees many pages.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open raft log %s: locked by another process: %w", path, err)
		}
		return nil, fmt.Errorf("open raft log %s: %w", path, err)
	}
	fail := func(err error) (Storage, error) {
		_ = db.Close()
		return nil, fmt.Errorf("open raft log %s: %w", path, err)
	}
	if err := initOrCheckSchema(db); err != nil {
		return fail(err)
	}
	st := boltState{tail: tailCache{
		maxEntries: cmpOr(opts.TailCacheEntries, defaultTailCacheEntries),
		maxBytes:   cmpOr(opts.TailCacheBytes, defaultTailCacheBytes),
	}}
	if err := db.View(func(tx *bolt.Tx) error { return loadState(tx, &st) }); err != nil {
		return fail(err)
	}
	s := &boltStorage{db: db, path: path, log: log, st: st}
	log.Info().Str("path", path).
		Uint64("first_index", st.bounds.firstIndex()).Uint64("last_index", st.bounds.last).
		Uint64("snapshot_index", st.bounds.snapIndex).Int64("log_bytes", st.logBytes).
		Int("term_runs", len(st.terms)).Dur("took", time.Since(start)).
		Msg("raft log opened")
	return s, nil
}

func cmpOr[T int | int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// loadState reads the committed state into st and checks the log's invariants.
func loadState(tx *bolt.Tx, st *boltState) error {
	state := tx.Bucket(bucketState)
	if v := state.Get(keyHardState); v != nil {
		hs := new(raftpb.HardState)
		if err := proto.Unmarshal(v, hs); err != nil {
			return fmt.Errorf("decode hard state: %v: %w", err, ErrCorrupt)
		}
		st.hs = hs
	}
	if v := state.Get(keyCompacted); v != nil {
		idx, term, err := decodeCompacted(v)
		if err != nil {
			return err
		}
		st.bounds.compacted, st.bounds.compactedTerm = idx, term
	}
	meta := new(raftpb.SnapshotMetadata)
	if v := state.Get(keySnapMeta); v != nil {
		if err := proto.Unmarshal(v, meta); err != nil {
			return fmt.Errorf("decode snapshot metadata: %v: %w", err, ErrCorrupt)
		}
	}
	st.snapMeta = raftpb.EnsureSnapshotMetadata(meta)
	st.bounds.snapIndex = meta.GetIndex()
	st.snapBytes = int64(len(tx.Bucket(bucketSnapshot).Get(keySnapData)))
	// Compact never passes the snapshot and a saved snapshot resets the log to it.
	if b := st.bounds; b.compacted > b.snapIndex {
		return fmt.Errorf("compacted through %d beyond snapshot %d: %w", b.compacted, b.snapIndex, ErrCorrupt)
	}
	if b := st.bounds; b.compacted == b.snapIndex && b.compactedTerm != meta.GetTerm() {
		return fmt.Errorf("compaction point %d has term %d, snapshot says %d: %w", b.compacted, b.compactedTerm, meta.GetTerm(), ErrCorrupt)
	}
	if err := loadEntries(tx.Bucket(bucketEntries), st); err != nil {
		return err
	}
	if b := st.bounds; b.snapIndex > b.last {
		return fmt.Errorf("snapshot at %d beyond last index %d: %w", b.snapIndex, b.last, ErrCorrupt)
	}
	if b := st.bounds; b.snapIndex > b.compacted && st.terms.termAt(b.snapIndex) != meta.GetTerm() {
		return fmt.Errorf("snapshot at %d has term %d, the log says %d: %w",
			b.snapIndex, meta.GetTerm(), st.terms.termAt(b.snapIndex), ErrCorrupt)
	}
	if commit := st.hs.GetCommit(); commit > st.bounds.last {
		return fmt.Errorf("hard state commit %d beyond last index %d: %w", commit, st.bounds.last, ErrCorrupt)
	}
	st.txid = tx.ID()
	return nil
}

// loadEntries scans every entry: checks there are no holes and terms never decrease,
// builds the term runs and the tail cache, and sums the log's size.
func loadEntries(b *bolt.Bucket, st *boltState) error {
	c := b.Cursor()
	cacheFrom := st.bounds.compacted + 1
	if k, _ := c.Last(); k != nil {
		last, err := keyIndex(k)
		if err != nil {
			return err
		}
		if n := uint64(st.tail.maxEntries); last >= n {
			cacheFrom = max(cacheFrom, last-n+1)
		}
	}
	next, prevTerm := st.bounds.compacted+1, st.bounds.compactedTerm
	for k, v := c.First(); k != nil; k, v = c.Next() {
		idx, err := keyIndex(k)
		if err != nil {
			return err
		}
		if idx != next {
			return fmt.Errorf("found entry %d where entry %d was expected: %w", idx, next, ErrCorrupt)
		}
		e, err := decodeEntry(idx, v)
		if err != nil {
			return err
		}
		if e.GetTerm() < prevTerm {
			return fmt.Errorf("entry %d has term %d, lower than %d before it: %w", idx, e.GetTerm(), prevTerm, ErrCorrupt)
		}
		st.terms.add(idx, e.GetTerm())
		st.logBytes += int64(len(v))
		if idx >= cacheFrom {
			st.tail.add(e, len(v))
		}
		next, prevTerm = idx+1, e.GetTerm()
	}
	st.bounds.last = next - 1
	return nil
}

func (s *boltStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	var hs *raftpb.HardState
	if s.st.hs != nil {
		hs = proto.Clone(s.st.hs).(*raftpb.HardState)
	}
	return hs, proto.Clone(s.st.snapMeta.GetConfState()).(*raftpb.ConfState), nil
}

func (s *boltStorage) Empty() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.closed && s.st.hs == nil && s.st.bounds.snapIndex == 0 && s.st.bounds.last == 0
}

func (s *boltStorage) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.st.bounds
	return Stats{
		Mode:          ModeBolt,
		FirstIndex:    b.firstIndex(),
		LastIndex:     b.last,
		SnapshotIndex: b.snapIndex,
		SnapshotTerm:  s.st.snapMeta.GetTerm(),
		Entries:       b.last - b.compacted,
		LogBytes:      s.st.logBytes,
		SnapshotBytes: s.st.snapBytes,
	}
}

func (s *boltStorage) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close raft log %s: %w", s.path, err)
	}
	s.log.Info().Str("path", s.path).Uint64("last_index", s.st.bounds.last).Msg("raft log closed")
	return nil
}
