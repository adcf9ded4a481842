package storage

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3/raftpb"
)

// fuzzTargets are the stored values FuzzOpenCorruptValue overwrites, by selector.
var fuzzTargets = []struct{ bucket, key []byte }{
	{bucketState, keyHardState},
	{bucketState, keyCompacted},
	{bucketState, keySnapMeta},
	{bucketSnapshot, keySnapData},
	{bucketEntries, indexKey(3)},
	{bucketEntries, indexKey(8)}, // the last entry
	{bucketEntries, indexKey(9)}, // one past the end
	{bucketMeta, keySchema},
}

var (
	fuzzTemplateOnce sync.Once
	fuzzTemplate     []byte
	fuzzTemplateErr  error
)

// fuzzTemplateFile is a valid log: entries 4..8 after a snapshot at 3 with a compaction
// point at 2, so every stored key exists.
func fuzzTemplateFile(t *testing.T) []byte {
	fuzzTemplateOnce.Do(func() {
		path := filepath.Join(t.TempDir(), "template.db")
		s, err := OpenBolt(path, BoltOptions{NoSync: true}, zerolog.Nop())
		if err != nil {
			fuzzTemplateErr = err
			return
		}
		err = errors.Join(
			s.Save(hardState(2, 1, 6), append(entries(1, 4, 1), entries(5, 8, 2)...), nil),
			func() error {
				_, err := s.CreateSnapshot(3, &raftpb.ConfState{Voters: []uint64{1}}, []byte("snap"))
				return err
			}(),
			s.Compact(2),
			s.Close(),
		)
		if err != nil {
			fuzzTemplateErr = err
			return
		}
		fuzzTemplate, fuzzTemplateErr = os.ReadFile(path)
	})
	if fuzzTemplateErr != nil {
		t.Fatalf("build template log: %v", fuzzTemplateErr)
	}
	return fuzzTemplate
}

// FuzzOpenCorruptValue overwrites one stored value of a valid log with arbitrary bytes.
// OpenBolt must then either refuse the file with one of its documented errors or return
// a storage whose log is self-consistent and writable; it must never panic.
func FuzzOpenCorruptValue(f *testing.F) {
	f.Add(uint8(0), []byte{0x08, 0x02, 0x10, 0x01, 0x18, 0x63}) // hard state, commit 99
	f.Add(uint8(1), encodeCompacted(3, 1))
	f.Add(uint8(2), []byte{0x10, 0x08, 0x18, 0x02}) // snapshot at 8, term 2
	f.Add(uint8(3), []byte{})
	f.Add(uint8(4), []byte{0x10, 0x01, 0x18, 0x03}) // entry 3 of term 1 without data
	f.Add(uint8(5), []byte{0xff})
	f.Add(uint8(6), []byte{0x10, 0x02, 0x18, 0x09}) // an extra entry 9
	f.Add(uint8(7), []byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, selector uint8, value []byte) {
		target := fuzzTargets[int(selector)%len(fuzzTargets)]
		path := filepath.Join(t.TempDir(), "raft.db")
		if err := os.WriteFile(path, fuzzTemplateFile(t), 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(target.bucket).Put(target.key, value) })
		if cerr := db.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}

		s, err := OpenBolt(path, BoltOptions{NoSync: true}, zerolog.Nop())
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchemaMismatch) && !errors.Is(err, ErrNotRaftLog) {
				t.Fatalf("OpenBolt refused the file with an undocumented error: %v", err)
			}
			return
		}
		defer s.Close()
		checkOpenedLog(t, s)
	})
}

// checkOpenedLog checks what raft relies on in a log OpenBolt accepted, then that it
// can be extended.
func checkOpenedLog(t *testing.T, s Storage) {
	st := s.Stats()
	hs, _, err := s.InitialState()
	if err != nil {
		t.Fatalf("InitialState: %v", err)
	}
	if hs.GetCommit() > st.LastIndex {
		t.Fatalf("accepted commit %d beyond last index %d", hs.GetCommit(), st.LastIndex)
	}
	if st.SnapshotIndex > st.LastIndex || st.FirstIndex-1 > st.SnapshotIndex {
		t.Fatalf("accepted snapshot %d outside the log: %+v", st.SnapshotIndex, st)
	}
	if _, err := s.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	prevTerm, err := s.Term(st.FirstIndex - 1)
	if err != nil {
		t.Fatalf("Term(%d): %v", st.FirstIndex-1, err)
	}
	if st.Entries > 0 {
		ents, err := s.Entries(st.FirstIndex, st.LastIndex+1, noLimit)
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
		if uint64(len(ents)) != st.Entries {
			t.Fatalf("Entries returned %d entries, Stats says %d", len(ents), st.Entries)
		}
		for k, e := range ents {
			if e.GetIndex() != st.FirstIndex+uint64(k) || e.GetTerm() < prevTerm {
				t.Fatalf("entry %d: index %d term %d after term %d", k, e.GetIndex(), e.GetTerm(), prevTerm)
			}
			if term, err := s.Term(e.GetIndex()); err != nil || term != e.GetTerm() {
				t.Fatalf("Term(%d) = %d, %v; entry says %d", e.GetIndex(), term, err, e.GetTerm())
			}
			prevTerm = e.GetTerm()
		}
	}
	next := entry(st.LastIndex+1, max(prevTerm, hs.GetTerm()))
	if err := s.Save(nil, []*raftpb.Entry{next}, nil); err != nil {
		t.Fatalf("Save after open: %v", err)
	}
}
