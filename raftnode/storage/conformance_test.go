package storage

import (
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestConformance runs one suite, with identical expectations, against every backend.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { runConformance(t, b.new) })
	}
}

func runConformance(t *testing.T, newStorage constructor) {
	t.Run("empty", func(t *testing.T) { testEmpty(t, newStorage(t)) })
	t.Run("append and read", func(t *testing.T) { testAppendAndRead(t, newStorage(t)) })
	t.Run("maxSize", func(t *testing.T) { testMaxSize(t, newStorage(t)) })
	t.Run("conflicting suffix", func(t *testing.T) { testConflictingSuffix(t, newStorage(t)) })
	t.Run("invalid entries", func(t *testing.T) { testInvalidEntries(t, newStorage(t)) })
	t.Run("hard state", func(t *testing.T) { testHardState(t, newStorage(t)) })
	t.Run("save snapshot", func(t *testing.T) { testSaveSnapshot(t, newStorage(t)) })
	t.Run("create snapshot", func(t *testing.T) { testCreateSnapshot(t, newStorage(t)) })
	t.Run("compact", func(t *testing.T) { testCompact(t, newStorage(t)) })
	t.Run("stats", func(t *testing.T) { testStats(t, newStorage(t)) })
	t.Run("closed", func(t *testing.T) { testClosed(t, newStorage(t)) })
	t.Run("concurrent", func(t *testing.T) { testConcurrent(t, newStorage(t)) })
}

func testEmpty(t *testing.T, s Storage) {
	if !s.Empty() {
		t.Fatal("new storage is not Empty")
	}
	hs, cs, err := s.InitialState()
	if err != nil {
		t.Fatalf("InitialState: %v", err)
	}
	if !raft.IsEmptyHardState(hs) {
		t.Fatalf("InitialState hard state = %v, want empty", hs)
	}
	if cs == nil || len(cs.GetVoters())+len(cs.GetLearners()) != 0 {
		t.Fatalf("InitialState conf state = %v, want non-nil and empty", cs)
	}
	wantIndexes(t, s, 1, 0)
	wantTerm(t, s, 0, 0)
	_, err = s.Term(1)
	wantErr(t, "Term(1) of empty log", err, raft.ErrUnavailable)
	_, err = s.Entries(1, 1, 100)
	wantErr(t, "Entries(1, 1) of empty log", err, raft.ErrUnavailable)
	_, err = s.Entries(0, 1, 100)
	wantErr(t, "Entries(0, 1) of empty log", err, raft.ErrCompacted)
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if !raft.IsEmptySnap(snap) || snap.GetMetadata() == nil {
		t.Fatalf("Snapshot of empty storage = %v, want empty with metadata", snap)
	}
	// Nothing to save is not something.
	mustSave(t, s, &raftpb.HardState{}, nil, &raftpb.Snapshot{})
	if !s.Empty() {
		t.Fatal("storage not Empty after saving only empty values")
	}
	if st := s.Stats(); st.FirstIndex != 1 || st.LastIndex != 0 || st.Entries != 0 || st.LogBytes != 0 || st.SnapshotIndex != 0 {
		t.Fatalf("Stats of empty storage = %+v", st)
	}
}

func testAppendAndRead(t *testing.T, s Storage) {
	log := append(entries(1, 5, 1), entries(6, 10, 2)...)
	mustSave(t, s, nil, log[:3], nil)
	mustSave(t, s, nil, log[3:], nil) // appends directly after
	if s.Empty() {
		t.Fatal("Empty with entries")
	}
	wantIndexes(t, s, 1, 10)
	wantTerm(t, s, 0, 0)
	wantTerm(t, s, 5, 1)
	wantTerm(t, s, 6, 2)
	wantTerm(t, s, 10, 2)
	_, err := s.Term(11)
	wantErr(t, "Term(11)", err, raft.ErrUnavailable)

	wantEntries(t, s, 1, 11, noLimit, log)
	wantEntries(t, s, 3, 6, noLimit, log[2:5])
	wantEntries(t, s, 10, 11, noLimit, log[9:])
	wantEntries(t, s, 4, 4, noLimit, nil)
	_, err = s.Entries(5, 12, noLimit)
	wantErr(t, "Entries beyond last index", err, raft.ErrUnavailable)
	_, err = s.Entries(6, 5, noLimit)
	wantErr(t, "Entries with lo > hi", err, raft.ErrUnavailable)
	_, err = s.Entries(0, 3, noLimit)
	wantErr(t, "Entries(0, 3)", err, raft.ErrCompacted)

	// The caller owns the returned slice: appending to it must not change the log.
	got, err := s.Entries(2, 4, noLimit)
	if err != nil {
		t.Fatalf("Entries(2, 4): %v", err)
	}
	_ = append(got, entry(99, 99))
	wantEntries(t, s, 2, 6, noLimit, log[1:5])
}

const noLimit = ^uint64(0)

func testMaxSize(t *testing.T, s Storage) {
	log := entries(1, 10, 1)
	log[4].Data = make([]byte, 1000) // a big entry in the middle
	mustSave(t, s, nil, log, nil)
	wantEntries(t, s, 1, 11, 0, log[:1]) // always at least one entry
	wantEntries(t, s, 5, 11, 0, log[4:5])
	wantEntries(t, s, 5, 11, 1, log[4:5]) // even if it alone exceeds maxSize
	wantEntries(t, s, 1, 11, sizeOf(log[:3]...), log[:3])
	wantEntries(t, s, 1, 11, sizeOf(log[:3]...)-1, log[:2])
	wantEntries(t, s, 1, 11, sizeOf(log[:3]...)+1, log[:3])
	wantEntries(t, s, 2, 11, sizeOf(log[1:5]...)-1, log[1:4]) // stops before the big one
	wantEntries(t, s, 6, 8, noLimit, log[5:7])                // hi bounds as well
}

func testConflictingSuffix(t *testing.T, s Storage) {
	mustSave(t, s, nil, entries(1, 10, 1), nil)
	// A new leader overwrites 6.. with a shorter suffix.
	mustSave(t, s, nil, entries(6, 7, 2), nil)
	wantIndexes(t, s, 1, 7)
	wantTerm(t, s, 5, 1)
	wantTerm(t, s, 6, 2)
	wantEntries(t, s, 1, 8, noLimit, append(entries(1, 5, 1), entries(6, 7, 2)...))
	_, err := s.Entries(7, 9, noLimit)
	wantErr(t, "Entries of truncated entries", err, raft.ErrUnavailable)
	// ... then a longer one from a later term.
	mustSave(t, s, nil, entries(7, 12, 3), nil)
	wantIndexes(t, s, 1, 12)
	want := append(append(entries(1, 5, 1), entries(6, 6, 2)...), entries(7, 12, 3)...)
	wantEntries(t, s, 1, 13, noLimit, want)
	// Rewriting the very first entry replaces everything.
	mustSave(t, s, nil, entries(1, 2, 4), nil)
	wantIndexes(t, s, 1, 2)
	wantEntries(t, s, 1, 3, noLimit, entries(1, 2, 4))
	if got, want := s.Stats().LogBytes, int64(sizeOf(entries(1, 2, 4)...)); got != want {
		t.Fatalf("LogBytes after overwrite = %d, want %d", got, want)
	}
}

func testInvalidEntries(t *testing.T, s Storage) {
	mustSave(t, s, hardState(1, 0, 3), entries(1, 5, 2), nil)
	gap := entries(7, 8, 2)
	badIndexes := []*raftpb.Entry{entry(6, 2), entry(8, 2)}
	badTerms := []*raftpb.Entry{entry(6, 3), entry(7, 2)}
	cases := []struct {
		name string
		ents []*raftpb.Entry
	}{
		{"gap after last index", gap},
		{"non-consecutive indexes", badIndexes},
		{"decreasing terms", badTerms},
		{"term below the entry before", entries(4, 6, 1)},
		{"nil entry", []*raftpb.Entry{entry(6, 2), nil}},
		{"index zero", []*raftpb.Entry{{Index: new(uint64(0)), Term: new(uint64(2))}}},
	}
	for _, c := range cases {
		// The hard state in the same Save must not be written either.
		err := s.Save(hardState(9, 9, 4), c.ents, nil)
		wantErr(t, c.name, err, ErrInvalidEntries)
	}
	wantIndexes(t, s, 1, 5)
	wantEntries(t, s, 1, 6, noLimit, entries(1, 5, 2))
	hs, _, err := s.InitialState()
	if err != nil || !proto.Equal(hs, hardState(1, 0, 3)) {
		t.Fatalf("hard state after refused saves = %v, %v; want %v", hs, err, hardState(1, 0, 3))
	}
}

func testHardState(t *testing.T, s Storage) {
	mustSave(t, s, hardState(3, 2, 0), nil, nil)
	if s.Empty() {
		t.Fatal("Empty with a hard state")
	}
	mustSave(t, s, hardState(4, 1, 5), entries(1, 6, 4), nil)
	mustSave(t, s, &raftpb.HardState{}, entries(7, 7, 4), nil) // empty: keeps the previous one
	hs, _, err := s.InitialState()
	if err != nil {
		t.Fatalf("InitialState: %v", err)
	}
	if !proto.Equal(hs, hardState(4, 1, 5)) {
		t.Fatalf("hard state = %v, want %v", hs, hardState(4, 1, 5))
	}
	// The returned value is a copy.
	hs.Commit = new(uint64(100))
	hs2, _, _ := s.InitialState()
	if hs2.GetCommit() != 5 {
		t.Fatalf("mutating InitialState's result changed the storage: commit %d", hs2.GetCommit())
	}
}

func testSaveSnapshot(t *testing.T, s Storage) {
	mustSave(t, s, hardState(2, 1, 10), entries(1, 10, 2), nil)
	snap := snapshot(20, 3, []uint64{1, 2, 3}, []byte("state at 20"))
	// A follower receives a snapshot plus the entries after it, some of which the
	// snapshot already covers.
	mustSave(t, s, hardState(3, 0, 20), entries(15, 23, 3), snap)
	wantIndexes(t, s, 21, 23)
	wantTerm(t, s, 20, 3)
	_, err := s.Term(19)
	wantErr(t, "Term before the snapshot", err, raft.ErrCompacted)
	wantEntries(t, s, 21, 24, noLimit, entries(21, 23, 3))
	_, err = s.Entries(20, 22, noLimit)
	wantErr(t, "Entries(20, 22) after snapshot", err, raft.ErrCompacted)
	got, err := s.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if got.GetMetadata().GetIndex() != 20 || got.GetMetadata().GetTerm() != 3 || string(got.GetData()) != "state at 20" ||
		!proto.Equal(got.GetMetadata().GetConfState(), raftpb.EnsureConfState(&raftpb.ConfState{Voters: []uint64{1, 2, 3}})) {
		t.Fatalf("Snapshot = %v, want the saved one", got)
	}
	_, cs, err := s.InitialState()
	if err != nil || len(cs.GetVoters()) != 3 {
		t.Fatalf("InitialState conf state = %v, %v; want voters 1, 2, 3", cs, err)
	}
	// An older snapshot is refused, and nothing else in that Save is applied.
	err = s.Save(hardState(9, 9, 9), entries(24, 25, 3), snapshot(18, 3, []uint64{1}, nil))
	wantErr(t, "Save of an older snapshot", err, raft.ErrSnapOutOfDate)
	err = s.Save(nil, nil, snapshot(20, 3, []uint64{1}, nil))
	wantErr(t, "Save of the same snapshot", err, raft.ErrSnapOutOfDate)
	wantIndexes(t, s, 21, 23)
	hs, _, _ := s.InitialState()
	if !proto.Equal(hs, hardState(3, 0, 20)) {
		t.Fatalf("hard state = %v after refused Save", hs)
	}
	// A snapshot alone leaves an empty log just after it.
	mustSave(t, s, nil, nil, snapshot(30, 4, []uint64{1, 2}, nil))
	wantIndexes(t, s, 31, 30)
	wantTerm(t, s, 30, 4)
	_, err = s.Entries(31, 31, noLimit)
	wantErr(t, "Entries of a log holding only a snapshot", err, raft.ErrUnavailable)
	if st := s.Stats(); st.Entries != 0 || st.LogBytes != 0 || st.SnapshotIndex != 30 || st.SnapshotTerm != 4 || st.SnapshotBytes != 0 {
		t.Fatalf("Stats after snapshot = %+v", st)
	}
}

func testCreateSnapshot(t *testing.T, s Storage) {
	mustSave(t, s, hardState(2, 1, 10), append(entries(1, 5, 1), entries(6, 10, 2)...), nil)
	cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	_, err := s.CreateSnapshot(11, cs, []byte("x"))
	wantErr(t, "CreateSnapshot beyond last index", err, raft.ErrUnavailable)
	snap, err := s.CreateSnapshot(7, cs, []byte("state at 7"))
	if err != nil {
		t.Fatalf("CreateSnapshot(7): %v", err)
	}
	if snap.GetMetadata().GetIndex() != 7 || snap.GetMetadata().GetTerm() != 2 || string(snap.GetData()) != "state at 7" {
		t.Fatalf("CreateSnapshot(7) = %v", snap)
	}
	// Recording a snapshot does not compact: the caller decides the trailing window.
	wantIndexes(t, s, 1, 10)
	got, err := s.Snapshot()
	if err != nil || !proto.Equal(got, snap) {
		t.Fatalf("Snapshot() = %v, %v; want %v", got, err, snap)
	}
	for _, i := range []uint64{7, 3} {
		_, err = s.CreateSnapshot(i, cs, nil)
		wantErr(t, "CreateSnapshot at or below the snapshot", err, raft.ErrSnapOutOfDate)
	}
	// A nil conf state keeps the previous one.
	snap, err = s.CreateSnapshot(9, nil, []byte("state at 9"))
	if err != nil {
		t.Fatalf("CreateSnapshot(9): %v", err)
	}
	if v := snap.GetMetadata().GetConfState().GetVoters(); len(v) != 3 {
		t.Fatalf("CreateSnapshot with nil conf state: voters %v, want 1, 2, 3", v)
	}
	_, initCS, _ := s.InitialState()
	if len(initCS.GetVoters()) != 3 {
		t.Fatalf("InitialState conf state = %v", initCS)
	}
	if st := s.Stats(); st.SnapshotIndex != 9 || st.SnapshotTerm != 2 || st.SnapshotBytes != int64(len("state at 9")) {
		t.Fatalf("Stats after CreateSnapshot = %+v", st)
	}
	// Entries a snapshot covers are committed and cannot be rewritten.
	err = s.Save(nil, entries(9, 10, 3), nil)
	wantErr(t, "Save rewriting entries under the snapshot", err, ErrInvalidEntries)
	mustSave(t, s, nil, entries(10, 11, 3), nil)
	wantIndexes(t, s, 1, 11)
	wantTerm(t, s, 9, 2)
	wantTerm(t, s, 10, 3)
}

func testCompact(t *testing.T, s Storage) {
	log := append(entries(1, 5, 1), entries(6, 10, 2)...)
	mustSave(t, s, hardState(2, 1, 10), log, nil)
	wantErr(t, "Compact without a snapshot", s.Compact(3), ErrCompactBeyondSnapshot)
	if _, err := s.CreateSnapshot(8, &raftpb.ConfState{Voters: []uint64{1}}, nil); err != nil {
		t.Fatalf("CreateSnapshot(8): %v", err)
	}
	wantErr(t, "Compact beyond the snapshot", s.Compact(9), ErrCompactBeyondSnapshot)
	wantErr(t, "Compact beyond last index", s.Compact(11), raft.ErrUnavailable)
	// Keep a trailing window of 2 behind the snapshot.
	if err := s.Compact(6); err != nil {
		t.Fatalf("Compact(6): %v", err)
	}
	wantIndexes(t, s, 7, 10)
	wantTerm(t, s, 6, 2) // FirstIndex-1 keeps its term
	_, err := s.Term(5)
	wantErr(t, "Term(5) after Compact(6)", err, raft.ErrCompacted)
	_, err = s.Entries(6, 8, noLimit)
	wantErr(t, "Entries(6, 8) after Compact(6)", err, raft.ErrCompacted)
	wantEntries(t, s, 7, 11, noLimit, log[6:])
	for _, i := range []uint64{6, 2} {
		wantErr(t, "Compact of compacted index", s.Compact(i), raft.ErrCompacted)
	}
	// Compacting through the snapshot keeps only what follows it.
	if err := s.Compact(8); err != nil {
		t.Fatalf("Compact(8): %v", err)
	}
	wantIndexes(t, s, 9, 10)
	wantTerm(t, s, 8, 2)
	// Entries already compacted are skipped by Save, even when a batch straddles them.
	mustSave(t, s, nil, entries(1, 3, 1), nil)
	wantIndexes(t, s, 9, 10)
	mustSave(t, s, nil, append(entries(5, 5, 1), entries(6, 11, 2)...), nil)
	wantIndexes(t, s, 9, 11)
	wantEntries(t, s, 9, 12, noLimit, entries(9, 11, 2))
	// Compacting the whole log empties it but keeps its position.
	if _, err := s.CreateSnapshot(11, nil, nil); err != nil {
		t.Fatalf("CreateSnapshot(11): %v", err)
	}
	if err := s.Compact(11); err != nil {
		t.Fatalf("Compact(11): %v", err)
	}
	wantIndexes(t, s, 12, 11)
	wantTerm(t, s, 11, 2)
	_, err = s.Entries(12, 12, noLimit)
	wantErr(t, "Entries of a fully compacted log", err, raft.ErrUnavailable)
	mustSave(t, s, nil, entries(12, 12, 3), nil)
	wantEntries(t, s, 12, 13, noLimit, entries(12, 12, 3))
}

func testStats(t *testing.T, s Storage) {
	mode := s.Stats().Mode
	if mode != ModeMemory && mode != ModeBolt {
		t.Fatalf("Stats mode = %q", mode)
	}
	log := entries(1, 100, 1)
	mustSave(t, s, hardState(1, 1, 100), log, nil)
	st := s.Stats()
	want := Stats{Mode: mode, FirstIndex: 1, LastIndex: 100, Entries: 100, LogBytes: int64(sizeOf(log...))}
	if st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	data := make([]byte, 5000)
	if _, err := s.CreateSnapshot(90, &raftpb.ConfState{Voters: []uint64{1}}, data); err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if err := s.Compact(80); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	want = Stats{Mode: mode, FirstIndex: 81, LastIndex: 100, SnapshotIndex: 90, SnapshotTerm: 1,
		Entries: 20, LogBytes: int64(sizeOf(log[80:]...)), SnapshotBytes: 5000}
	if st := s.Stats(); st != want {
		t.Fatalf("Stats after compaction = %+v, want %+v", st, want)
	}
}

func testClosed(t *testing.T, s Storage) {
	mustSave(t, s, hardState(1, 1, 3), entries(1, 3, 1), nil)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, _, err := s.InitialState()
	wantErr(t, "InitialState after Close", err, ErrClosed)
	_, err = s.Entries(1, 2, noLimit)
	wantErr(t, "Entries after Close", err, ErrClosed)
	_, err = s.Term(1)
	wantErr(t, "Term after Close", err, ErrClosed)
	_, err = s.LastIndex()
	wantErr(t, "LastIndex after Close", err, ErrClosed)
	_, err = s.FirstIndex()
	wantErr(t, "FirstIndex after Close", err, ErrClosed)
	_, err = s.Snapshot()
	wantErr(t, "Snapshot after Close", err, ErrClosed)
	wantErr(t, "Save after Close", s.Save(nil, entries(4, 4, 1), nil), ErrClosed)
	_, err = s.CreateSnapshot(2, nil, nil)
	wantErr(t, "CreateSnapshot after Close", err, ErrClosed)
	wantErr(t, "Compact after Close", s.Compact(1), ErrClosed)
	if s.Empty() {
		t.Fatal("Empty after Close")
	}
}
