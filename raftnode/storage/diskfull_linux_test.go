package storage

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/chronik/chronik-node/internal/disktest"
)

// TestBoltDiskFullIsNotFatal fills the file system under the log until a Save fails for
// space: the log must keep everything saved before, and once space is freed take writes
// again without a reopen. It used to refuse every write after the first failure, so a
// node whose disk filled up once had no Raft log (no leader, no metadata changes) until
// it was restarted.
func TestBoltDiskFullIsNotFatal(t *testing.T) {
	mnt := disktest.Tmpfs(t, "2m")

	path := filepath.Join(mnt, "raft.db")
	s := openTestBolt(t, path, BoltOptions{})
	mustSave(t, s, hardState(1, 1, 0), entries(1, 10, 1), nil)

	filler := filepath.Join(mnt, "filler")
	disktest.Fill(t, filler)
	big := make([]byte, 64<<10)
	var err error
	next := uint64(11)
	bigEntry := func(i uint64) []*raftpb.Entry {
		e := entry(i, 1)
		e.Data = big
		return []*raftpb.Entry{e}
	}
	for ; next < 200; next++ {
		if err = s.Save(hardState(1, 1, next-1), bigEntry(next), nil); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("save %d entries of 64 KiB on a full disk: %v, want ENOSPC", next-11, err)
	}
	wantIndexes(t, s, 1, next-1)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, hardState(1, 1, next), bigEntry(next), nil)
	wantIndexes(t, s, 1, next)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openTestBolt(t, path, BoltOptions{})
	wantIndexes(t, reopened, 1, next)
	wantTerm(t, reopened, next, 1)
}
