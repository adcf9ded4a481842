package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// constructor builds a fresh, empty Storage for one test.
type constructor func(t testing.TB) Storage

// backends are every Storage the conformance suite runs against. bolt-cold uses a
// one-entry tail cache so that reads go to the file.
var backends = []struct {
	name string
	new  constructor
}{
	{"memory", func(testing.TB) Storage { return NewMemory() }},
	{"bolt", func(t testing.TB) Storage { return openTestBolt(t, tempDBPath(t), BoltOptions{NoSync: true}) }},
	{"bolt-cold", func(t testing.TB) Storage {
		return openTestBolt(t, tempDBPath(t), BoltOptions{NoSync: true, TailCacheEntries: 1})
	}},
}

func tempDBPath(t testing.TB) string { return filepath.Join(t.TempDir(), "raft.db") }

// openTestBolt opens path and closes it when the test ends.
func openTestBolt(t testing.TB, path string, opts BoltOptions) Storage {
	t.Helper()
	s, err := OpenBolt(path, opts, zerolog.Nop())
	if err != nil {
		t.Fatalf("OpenBolt(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// payload is the data of entry (index, term): checkable after any read.
func payload(index, term uint64) []byte { return fmt.Appendf(nil, "entry %d of term %d", index, term) }

func entry(index, term uint64) *raftpb.Entry {
	return &raftpb.Entry{Index: new(index), Term: new(term), Type: raftpb.EntryNormal.Enum(), Data: payload(index, term)}
}

// entries builds [from, to] with the given term.
func entries(from, to, term uint64) []*raftpb.Entry {
	var out []*raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, entry(i, term))
	}
	return out
}

func hardState(term, vote, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

func snapshot(index, term uint64, voters []uint64, data []byte) *raftpb.Snapshot {
	return &raftpb.Snapshot{Data: data, Metadata: &raftpb.SnapshotMetadata{
		Index: new(index), Term: new(term), ConfState: &raftpb.ConfState{Voters: voters},
	}}
}

func mustSave(t testing.TB, s Storage, hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot) {
	t.Helper()
	if err := s.Save(hs, ents, snap); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func wantIndexes(t testing.TB, s Storage, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if f != first || l != last {
		t.Fatalf("FirstIndex, LastIndex = %d, %d; want %d, %d", f, l, first, last)
	}
}

func wantTerm(t testing.TB, s Storage, i, term uint64) {
	t.Helper()
	got, err := s.Term(i)
	if err != nil {
		t.Fatalf("Term(%d): %v", i, err)
	}
	if got != term {
		t.Fatalf("Term(%d) = %d, want %d", i, got, term)
	}
}

// wantEntries reads [lo, hi) with maxSize and compares with want.
func wantEntries(t testing.TB, s Storage, lo, hi, maxSize uint64, want []*raftpb.Entry) {
	t.Helper()
	got, err := s.Entries(lo, hi, maxSize)
	if err != nil {
		t.Fatalf("Entries(%d, %d, %d): %v", lo, hi, maxSize, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Entries(%d, %d, %d) returned %d entries, want %d", lo, hi, maxSize, len(got), len(want))
	}
	for k := range want {
		if !proto.Equal(got[k], want[k]) {
			t.Fatalf("Entries(%d, %d, %d)[%d] = %v, want %v", lo, hi, maxSize, k, got[k], want[k])
		}
	}
}

func sizeOf(ents ...*raftpb.Entry) uint64 {
	var n uint64
	for _, e := range ents {
		n += uint64(proto.Size(e))
	}
	return n
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
