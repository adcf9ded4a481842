package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func (s *boltStorage) Term(i uint64) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.st.termAt(i)
}

func (s *boltStorage) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.st.bounds.last, nil
}

func (s *boltStorage) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.st.bounds.firstIndex(), nil
}

// Entries serves from the tail cache when it holds lo, else reads the range in one
// read-only transaction.
func (s *boltStorage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	if ents, done, err := s.entriesFromMemory(lo, hi, maxSize); done {
		return ents, err
	}
	var ents []*raftpb.Entry
	err := s.view(func(st *boltState, tx *bolt.Tx) error {
		if err := checkEntriesRange(st.bounds, lo, hi); err != nil {
			return err
		}
		var err error
		ents, err = readEntries(tx.Bucket(bucketEntries), lo, hi, maxSize)
		return err
	})
	return ents, err
}

// entriesFromMemory answers Entries without a transaction when it can: bad ranges, empty
// ranges and ranges starting in the tail cache. done is false when the disk is needed.
func (s *boltStorage) entriesFromMemory(lo, hi, maxSize uint64) (ents []*raftpb.Entry, done bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, true, ErrClosed
	}
	if err := checkEntriesRange(s.st.bounds, lo, hi); err != nil {
		return nil, true, err
	}
	if lo == hi {
		return []*raftpb.Entry{}, true, nil
	}
	ents, ok := s.st.tail.get(lo, hi, maxSize)
	return ents, ok, nil
}

// readEntries reads [lo, hi) (known to be in the log) up to maxSize, at least one entry.
func readEntries(b *bolt.Bucket, lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	var (
		ents  []*raftpb.Entry
		total uint64
	)
	c := b.Cursor()
	k, v := c.Seek(indexKey(lo))
	for idx := lo; idx < hi; idx++ {
		if k == nil {
			return nil, fmt.Errorf("entry %d missing from the file: %w", idx, ErrCorrupt)
		}
		got, err := keyIndex(k)
		if err != nil {
			return nil, err
		}
		if got != idx {
			return nil, fmt.Errorf("found entry %d where entry %d was expected: %w", got, idx, ErrCorrupt)
		}
		total += uint64(len(v))
		if len(ents) > 0 && total > maxSize {
			break
		}
		e, err := decodeEntry(idx, v)
		if err != nil {
			return nil, err
		}
		ents = append(ents, e)
		k, v = c.Next()
	}
	return ents, nil
}

func (s *boltStorage) Snapshot() (*raftpb.Snapshot, error) {
	var snap *raftpb.Snapshot
	err := s.view(func(st *boltState, tx *bolt.Tx) error {
		snap = &raftpb.Snapshot{Metadata: proto.Clone(st.snapMeta).(*raftpb.SnapshotMetadata)}
		if v := tx.Bucket(bucketSnapshot).Get(keySnapData); len(v) > 0 {
			snap.Data = append([]byte(nil), v...) // v is only valid inside the transaction
		}
		return nil
	})
	return snap, err
}

// view runs fn in a read-only transaction whose contents are exactly what st describes.
func (s *boltStorage) view(fn func(st *boltState, tx *bolt.Tx) error) error {
	if done, err := s.viewOnce(fn, false); done {
		return err
	}
	// A write has committed but not yet published its state. Excluding writers waits
	// for the publication and keeps the next commit away.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, err := s.viewOnce(fn, true)
	return err
}

func (s *boltStorage) viewOnce(fn func(st *boltState, tx *bolt.Tx) error, writersExcluded bool) (done bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return true, ErrClosed
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return true, fmt.Errorf("read raft log %s: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	if tx.ID() != s.st.txid {
		if !writersExcluded {
			return false, nil
		}
		return true, fmt.Errorf("read raft log %s: file at transaction %d, expected %d (after a failed write, or written by another process): %w",
			s.path, tx.ID(), s.st.txid, ErrCorrupt)
	}
	return true, fn(&s.st, tx)
}
