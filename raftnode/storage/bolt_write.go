package storage

import (
	"errors"
	"fmt"
	"syscall"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// entriesFillPercent packs entry pages full: keys only ever grow, so pages are never
// split by an insert in the middle.
const entriesFillPercent = 1.0

// Save writes the whole plan in one bbolt transaction: one fsync however many entries.
func (s *boltStorage) Save(hs *raftpb.HardState, entries []*raftpb.Entry, snap *raftpb.Snapshot) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	// st only changes under writeMu, which this goroutine holds: reading it without mu
	// is safe.
	p, err := planSave(s.st.bounds, s.st.termAt, hs, entries, snap)
	if err != nil {
		return err
	}
	if p.empty() {
		return nil
	}
	var w saveWrite
	if err := s.update(func(tx *bolt.Tx) error { return w.write(tx, p, s.st.bounds.last) }); err != nil {
		return fmt.Errorf("save raft log: %w", err)
	}
	s.mu.Lock()
	w.publish(&s.st, p)
	s.mu.Unlock()
	return nil
}

// saveWrite carries what the transaction learnt to the in-memory state.
type saveWrite struct {
	removedBytes int64 // encoded size of the entries the append replaced
	sizes        []int // encoded size of each appended entry
	txid         int
}

func (w *saveWrite) write(tx *bolt.Tx, p savePlan, last uint64) error {
	state := tx.Bucket(bucketState)
	if p.snap != nil {
		// A snapshot replaces the whole log; dropping the bucket is cheaper than
		// deleting entries one by one.
		if err := tx.DeleteBucket(bucketEntries); err != nil {
			return fmt.Errorf("drop entries for snapshot: %w", err)
		}
		if _, err := tx.CreateBucket(bucketEntries); err != nil {
			return fmt.Errorf("recreate entries for snapshot: %w", err)
		}
		meta := p.snap.GetMetadata()
		if err := putSnapshot(tx, meta, p.snap.GetData()); err != nil {
			return err
		}
		if err := state.Put(keyCompacted, encodeCompacted(meta.GetIndex(), meta.GetTerm())); err != nil {
			return fmt.Errorf("put compaction point: %w", err)
		}
	}
	if len(p.entries) > 0 {
		// Only an append at or below the last index replaces entries; skipping the
		// search otherwise matters, as seeking past the last key walks the cursor stack.
		truncate := p.snap == nil && p.entries[0].GetIndex() <= last
		if err := w.appendEntries(tx.Bucket(bucketEntries), p.entries, truncate); err != nil {
			return err
		}
	}
	if p.hs != nil {
		v, err := proto.Marshal(p.hs)
		if err != nil {
			return fmt.Errorf("encode hard state: %w", err)
		}
		if err := state.Put(keyHardState, v); err != nil {
			return fmt.Errorf("put hard state: %w", err)
		}
	}
	w.txid = tx.ID()
	return nil
}

func (w *saveWrite) appendEntries(b *bolt.Bucket, ents []*raftpb.Entry, truncate bool) error {
	if truncate {
		// Replace the conflicting suffix. Seek again after each Delete: a bbolt cursor
		// may skip an element when Next follows Delete.
		first := ents[0].GetIndex()
		c := b.Cursor()
		firstKey := indexKey(first)
		for k, v := c.Seek(firstKey); k != nil; k, v = c.Seek(firstKey) {
			w.removedBytes += int64(len(v))
			if err := c.Delete(); err != nil {
				return fmt.Errorf("truncate log from %d: %w", first, err)
			}
		}
	}
	b.FillPercent = entriesFillPercent
	// One buffer for all values and one for all keys: bbolt keeps references to both
	// until commit, so they must not be reused, but they need not be separate allocations.
	var vals []byte
	keys := make([]byte, 0, 8*len(ents))
	w.sizes = make([]int, len(ents))
	for k, e := range ents {
		start := len(vals)
		var err error
		if vals, err = (proto.MarshalOptions{}).MarshalAppend(vals, e); err != nil {
			return fmt.Errorf("encode entry %d: %w", e.GetIndex(), err)
		}
		keys = append(keys, indexKey(e.GetIndex())...)
		w.sizes[k] = len(vals) - start
	}
	// Slice after encoding: MarshalAppend may have moved vals while growing it.
	off := 0
	for k, e := range ents {
		key := keys[8*k : 8*k+8 : 8*k+8]
		if err := b.Put(key, vals[off:off+w.sizes[k]:off+w.sizes[k]]); err != nil {
			return fmt.Errorf("put entry %d: %w", e.GetIndex(), err)
		}
		off += w.sizes[k]
	}
	return nil
}

func (w *saveWrite) publish(st *boltState, p savePlan) {
	if p.snap != nil {
		meta := p.snap.GetMetadata()
		st.bounds = logBounds{compacted: meta.GetIndex(), compactedTerm: meta.GetTerm(), last: meta.GetIndex(), snapIndex: meta.GetIndex()}
		st.snapMeta = cloneSnapMeta(meta)
		st.snapBytes = int64(len(p.snap.GetData()))
		st.terms = nil
		st.tail.reset()
		st.logBytes = 0
	}
	if len(p.entries) > 0 {
		first := p.entries[0].GetIndex()
		st.terms.truncateFrom(first)
		st.tail.truncateFrom(first)
		st.logBytes -= w.removedBytes
		for k, e := range p.entries {
			st.terms.add(e.GetIndex(), e.GetTerm())
			st.tail.add(e, w.sizes[k])
			st.logBytes += int64(w.sizes[k])
		}
		st.bounds.last = p.entries[len(p.entries)-1].GetIndex()
	}
	if p.hs != nil {
		st.hs = proto.Clone(p.hs).(*raftpb.HardState)
	}
	st.txid = w.txid
}

func (s *boltStorage) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writable(); err != nil {
		return nil, err
	}
	if err := checkCreateSnapshot(s.st.bounds, i); err != nil {
		return nil, err
	}
	term, err := s.st.termAt(i)
	if err != nil {
		return nil, fmt.Errorf("create snapshot at %d: %w", i, err)
	}
	if cs == nil {
		cs = s.st.snapMeta.GetConfState()
	}
	meta := cloneSnapMeta(&raftpb.SnapshotMetadata{Index: new(i), Term: new(term), ConfState: cs})
	var txid int
	err = s.update(func(tx *bolt.Tx) error {
		txid = tx.ID()
		return putSnapshot(tx, meta, data)
	})
	if err != nil {
		return nil, fmt.Errorf("create snapshot at %d: %w", i, err)
	}
	s.mu.Lock()
	s.st.snapMeta = meta
	s.st.bounds.snapIndex = i
	s.st.snapBytes = int64(len(data))
	s.st.txid = txid
	s.mu.Unlock()
	return &raftpb.Snapshot{Data: data, Metadata: cloneSnapMeta(meta)}, nil
}

func (s *boltStorage) Compact(compactIndex uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := checkCompact(s.st.bounds, compactIndex); err != nil {
		return err
	}
	term, err := s.st.termAt(compactIndex)
	if err != nil {
		return fmt.Errorf("compact through %d: %w", compactIndex, err)
	}
	var (
		removed int64
		txid    int
	)
	err = s.update(func(tx *bolt.Tx) error {
		txid = tx.ID()
		c := tx.Bucket(bucketEntries).Cursor()
		// Keys sort by index, so the oldest entry is always first; re-seek after each
		// Delete (see appendEntries).
		for k, v := c.First(); k != nil; k, v = c.First() {
			idx, err := keyIndex(k)
			if err != nil {
				return err
			}
			if idx > compactIndex {
				break
			}
			removed += int64(len(v))
			if err := c.Delete(); err != nil {
				return fmt.Errorf("delete entry %d: %w", idx, err)
			}
		}
		// Stored in the same transaction as the deletes, so a crash can never leave
		// the compaction point disagreeing with the entries present.
		return tx.Bucket(bucketState).Put(keyCompacted, encodeCompacted(compactIndex, term))
	})
	if err != nil {
		return fmt.Errorf("compact raft log through %d: %w", compactIndex, err)
	}
	s.mu.Lock()
	s.st.terms.compactThrough(compactIndex, s.st.bounds.last)
	s.st.tail.compactThrough(compactIndex)
	s.st.bounds.compacted, s.st.bounds.compactedTerm = compactIndex, term
	s.st.logBytes -= removed
	s.st.txid = txid
	s.mu.Unlock()
	s.log.Debug().Uint64("compacted_through", compactIndex).Int64("freed_bytes", removed).Msg("raft log compacted")
	return nil
}

// writable reports whether writes may proceed; the caller holds writeMu.
func (s *boltStorage) writable() error {
	if s.closed {
		return ErrClosed
	}
	if s.failed != nil {
		return fmt.Errorf("raft log %s refuses writes after an earlier failure (restart to reopen): %w", s.path, s.failed)
	}
	return nil
}

// update runs fn in a write transaction. A failed transaction usually leaves the file's
// state unknown to us (an fsync error may or may not have reached the disk), so the
// storage refuses further writes; reopening re-reads the truth from the file. A full disk
// is the exception: bbolt writes a transaction's pages before its meta page, so a write
// refused for space never reached the meta page, the file still holds the last commit,
// and bbolt rolled its own state back. Refusing every later write for it would keep the
// node without a Raft log (no leader, no metadata changes) after the space is back.
func (s *boltStorage) update(fn func(tx *bolt.Tx) error) error {
	err := s.db.Update(fn)
	if err == nil {
		return nil
	}
	if isDiskFull(err) && s.fileAtLastCommit() {
		// Debug: the caller retries every half second and says once that the disk is full.
		s.log.Debug().Err(err).Str("path", s.path).Msg("raft log write refused: no space left; nothing was written")
		return err
	}
	s.failed = err
	s.log.Error().Err(err).Str("path", s.path).Msg("raft log write failed; refusing further writes")
	return err
}

// isDiskFull reports whether err is the file system refusing a write for lack of space.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// fileAtLastCommit reports whether the file's newest meta page is still the last commit
// this storage made, i.e. whether the failed transaction left no trace a reader could see.
// The caller holds writeMu, so no other commit can move it.
func (s *boltStorage) fileAtLastCommit() bool {
	txid := -1
	if err := s.db.View(func(tx *bolt.Tx) error { txid = tx.ID(); return nil }); err != nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return txid == s.st.txid
}

func putSnapshot(tx *bolt.Tx, meta *raftpb.SnapshotMetadata, data []byte) error {
	state, snaps := tx.Bucket(bucketState), tx.Bucket(bucketSnapshot)
	v, err := proto.Marshal(cloneSnapMeta(meta))
	if err != nil {
		return fmt.Errorf("encode snapshot metadata: %w", err)
	}
	if err := state.Put(keySnapMeta, v); err != nil {
		return fmt.Errorf("put snapshot metadata: %w", err)
	}
	if len(data) == 0 {
		if err := snaps.Delete(keySnapData); err != nil {
			return fmt.Errorf("delete snapshot data: %w", err)
		}
		return nil
	}
	if err := snaps.Put(keySnapData, data); err != nil {
		return fmt.Errorf("put snapshot data (%d bytes): %w", len(data), err)
	}
	return nil
}

// cloneSnapMeta deep-copies snapshot metadata with every field present.
func cloneSnapMeta(m *raftpb.SnapshotMetadata) *raftpb.SnapshotMetadata {
	if m == nil {
		return raftpb.EnsureSnapshotMetadata(nil)
	}
	return raftpb.EnsureSnapshotMetadata(proto.Clone(m).(*raftpb.SnapshotMetadata))
}
