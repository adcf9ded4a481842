package storage

import (
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// rawUpdate edits a closed raft log file directly, to fake corruption or other writers.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bolt.Open(%s): %v", path, err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatalf("raw update of %s: %v", path, err)
	}
}

// storageImage is everything a Storage exposes, to compare across a reopen.
type storageImage struct {
	stats   Stats
	hs      *raftpb.HardState
	cs      *raftpb.ConfState
	snap    *raftpb.Snapshot
	ents    []*raftpb.Entry
	preTerm uint64 // term of FirstIndex-1
}

func imageOf(t *testing.T, s Storage) storageImage {
	t.Helper()
	img := storageImage{stats: s.Stats()}
	var err error
	if img.hs, img.cs, err = s.InitialState(); err != nil {
		t.Fatalf("InitialState: %v", err)
	}
	if img.snap, err = s.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if img.stats.Entries > 0 {
		if img.ents, err = s.Entries(img.stats.FirstIndex, img.stats.LastIndex+1, noLimit); err != nil {
			t.Fatalf("Entries: %v", err)
		}
	}
	if img.preTerm, err = s.Term(img.stats.FirstIndex - 1); err != nil {
		t.Fatalf("Term(FirstIndex-1): %v", err)
	}
	return img
}

func wantSameImage(t *testing.T, got, want storageImage) {
	t.Helper()
	if got.stats != want.stats {
		t.Fatalf("Stats = %+v, want %+v", got.stats, want.stats)
	}
	if !proto.Equal(got.hs, want.hs) || !proto.Equal(got.cs, want.cs) || !proto.Equal(got.snap, want.snap) {
		t.Fatalf("state = %v / %v / %v, want %v / %v / %v", got.hs, got.cs, got.snap, want.hs, want.cs, want.snap)
	}
	if got.preTerm != want.preTerm {
		t.Fatalf("Term(FirstIndex-1) = %d, want %d", got.preTerm, want.preTerm)
	}
	if len(got.ents) != len(want.ents) {
		t.Fatalf("%d entries, want %d", len(got.ents), len(want.ents))
	}
	for k := range want.ents {
		if !proto.Equal(got.ents[k], want.ents[k]) {
			t.Fatalf("entry %d = %v, want %v", k, got.ents[k], want.ents[k])
		}
	}
}

func TestBoltReopenKeepsEverything(t *testing.T) {
	for _, opts := range []BoltOptions{{}, {TailCacheEntries: 3}} {
		path := tempDBPath(t)
		s := openTestBolt(t, path, opts)
		mustSave(t, s, hardState(1, 1, 20), entries(1, 20, 1), nil)
		mustSave(t, s, hardState(2, 2, 30), entries(21, 50, 2), nil)
		mustSave(t, s, hardState(3, 3, 44), entries(45, 52, 3), nil) // overwrite a suffix
		if _, err := s.CreateSnapshot(40, &raftpb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("state at 40")); err != nil {
			t.Fatalf("CreateSnapshot: %v", err)
		}
		if err := s.Compact(35); err != nil {
			t.Fatalf("Compact: %v", err)
		}
		before := imageOf(t, s)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		s = openTestBolt(t, path, opts)
		wantSameImage(t, imageOf(t, s), before)
		if s.Empty() {
			t.Fatal("reopened storage is Empty")
		}
		// And it keeps working where it left off.
		mustSave(t, s, nil, entries(53, 53, 3), nil)
		wantIndexes(t, s, 36, 53)
		wantEntries(t, s, 52, 54, noLimit, entries(52, 53, 3))
	}
}

func TestBoltReopenAfterSnapshotInstall(t *testing.T) {
	path := tempDBPath(t)
	s := openTestBolt(t, path, BoltOptions{})
	mustSave(t, s, hardState(1, 1, 5), entries(1, 9, 1), nil)
	mustSave(t, s, hardState(4, 0, 100), entries(101, 103, 4), snapshot(100, 4, []uint64{1, 2}, []byte("installed")))
	before := imageOf(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTestBolt(t, path, BoltOptions{})
	wantSameImage(t, imageOf(t, s), before)
	wantIndexes(t, s, 101, 103)
	wantTerm(t, s, 100, 4)
}

func TestBoltReopenEmpty(t *testing.T) {
	path := tempDBPath(t)
	s := openTestBolt(t, path, BoltOptions{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openTestBolt(t, path, BoltOptions{})
	if !s.Empty() {
		t.Fatal("reopened empty log is not Empty")
	}
	wantIndexes(t, s, 1, 0)
}

// closedLog writes a small log (entries 1..5, hard state commit 5) and closes it.
func closedLog(t *testing.T) string {
	t.Helper()
	path := tempDBPath(t)
	s, err := OpenBolt(path, BoltOptions{NoSync: true}, zerolog.Nop())
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	mustSave(t, s, hardState(2, 1, 5), append(entries(1, 3, 1), entries(4, 5, 2)...), nil)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return path
}

func TestBoltRefusesBadFiles(t *testing.T) {
	put := func(bucket, key, value []byte) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, value) }
	}
	encoded := func(m proto.Message) []byte {
		v, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name    string
		edit    func(tx *bolt.Tx) error
		want    error
		message string
	}{
		{"newer schema", put(bucketMeta, keySchema, []byte{0, 0, 0, 99}), ErrSchemaMismatch,
			"file has schema version 99, this binary reads version 2"},
		{"schema key damaged", put(bucketMeta, keySchema, []byte{1}), ErrNotRaftLog, "schema key"},
		{"entries bucket missing", func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketEntries) }, ErrCorrupt, "buckets missing"},
		{"hole in the log", func(tx *bolt.Tx) error { return tx.Bucket(bucketEntries).Delete(indexKey(3)) }, ErrCorrupt,
			"found entry 4 where entry 3 was expected"},
		{"undecodable entry", put(bucketEntries, indexKey(2), []byte{0xff, 0xff, 0xff}), ErrCorrupt, "decode entry 2"},
		{"entry under the wrong key", put(bucketEntries, indexKey(2), encoded(entry(7, 1))), ErrCorrupt,
			"stored under index 2 says index 7"},
		{"bad entry key", put(bucketEntries, []byte("x"), encoded(entry(1, 1))), ErrCorrupt, "entry key"},
		{"term goes down", put(bucketEntries, indexKey(5), encoded(entry(5, 1))), ErrCorrupt, "lower than 2"},
		{"commit beyond last", put(bucketState, keyHardState, encoded(hardState(2, 1, 6))), ErrCorrupt,
			"commit 6 beyond last index 5"},
		{"undecodable hard state", put(bucketState, keyHardState, []byte{0x08}), ErrCorrupt, "decode hard state"},
		{"compaction point damaged", put(bucketState, keyCompacted, []byte{1, 2, 3}), ErrCorrupt, "compaction point"},
		{"compacted beyond snapshot", put(bucketState, keyCompacted, encodeCompacted(2, 1)), ErrCorrupt,
			"compacted through 2 beyond snapshot 0"},
		{"snapshot beyond last index", put(bucketState, keySnapMeta, encoded(snapshot(6, 2, nil, nil).GetMetadata())), ErrCorrupt,
			"snapshot at 6 beyond last index 5"},
		{"snapshot term disagrees with the log", put(bucketState, keySnapMeta, encoded(snapshot(4, 1, nil, nil).GetMetadata())), ErrCorrupt,
			"snapshot at 4 has term 1, the log says 2"},
		{"undecodable snapshot", put(bucketState, keySnapMeta, []byte{0x0a, 0x05}), ErrCorrupt, "decode snapshot metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := closedLog(t)
			rawUpdate(t, path, c.edit)
			s, err := OpenBolt(path, BoltOptions{}, zerolog.Nop())
			if err == nil {
				_ = s.Close()
				t.Fatalf("OpenBolt succeeded, want %v", c.want)
			}
			wantErr(t, "OpenBolt", err, c.want)
			if !strings.Contains(err.Error(), c.message) || !strings.Contains(err.Error(), path) {
				t.Fatalf("OpenBolt error %q does not name the file and say %q", err, c.message)
			}
		})
	}
}

func TestBoltRefusesForeignBoltFile(t *testing.T) {
	path := tempDBPath(t)
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("topics"))
		return err
	})
	_, err := OpenBolt(path, BoltOptions{}, zerolog.Nop())
	wantErr(t, "OpenBolt of another bbolt file", err, ErrNotRaftLog)
	// The file was left as it was.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("reopen foreign file: %v", err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) != nil || tx.Bucket(bucketEntries) != nil {
			t.Error("OpenBolt created buckets in a foreign file")
		}
		return nil
	})
}

func TestBoltRefusesGarbageFile(t *testing.T) {
	path := tempDBPath(t)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenBolt(path, BoltOptions{}, zerolog.Nop())
	if err == nil {
		_ = s.Close()
		t.Fatal("OpenBolt of a garbage file succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not name the file", err)
	}
}

func TestBoltRefusesSecondOpener(t *testing.T) {
	path := tempDBPath(t)
	openTestBolt(t, path, BoltOptions{})
	s, err := OpenBolt(path, BoltOptions{}, zerolog.Nop())
	if err == nil {
		_ = s.Close()
		t.Fatal("second OpenBolt of an open log succeeded")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second OpenBolt: %v, want a lock error", err)
	}
}

// TestBoltSaveIsOneTransaction checks each write commits exactly one bbolt transaction
// (one fsync), however much it carries: bbolt numbers transactions consecutively.
func TestBoltSaveIsOneTransaction(t *testing.T) {
	s := openTestBolt(t, tempDBPath(t), BoltOptions{NoSync: true})
	bs := s.(*boltStorage)
	txid := func() int {
		tx, err := bs.db.Begin(false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		return tx.ID()
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"Save of 256 entries and a hard state", func() error { return s.Save(hardState(1, 1, 0), entries(1, 256, 1), nil) }},
		{"Save of snapshot, entries and hard state", func() error {
			return s.Save(hardState(2, 1, 256), entries(200, 300, 2), snapshot(250, 2, []uint64{1}, []byte("s")))
		}},
		{"CreateSnapshot", func() error { _, err := s.CreateSnapshot(290, nil, []byte("t")); return err }},
		{"Compact of 40 entries", func() error { return s.Compact(290) }},
	}
	for _, step := range steps {
		before := txid()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := txid() - before; got != 1 {
			t.Fatalf("%s committed %d transactions, want 1", step.name, got)
		}
	}
	before := txid()
	mustSave(t, s, nil, nil, nil)
	if got := txid() - before; got != 0 {
		t.Fatalf("empty Save committed %d transactions, want 0", got)
	}
}
