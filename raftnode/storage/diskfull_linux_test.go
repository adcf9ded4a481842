package storage

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// TestBoltDiskFullIsNotFatal fills the file system under the log until a Save fails for
// space: the log must keep everything saved before, and once space is freed take writes
// again without a reopen. It used to refuse every write after the first failure, so a
// node whose disk filled up once had no Raft log (no leader, no metadata changes) until
// it was restarted.
func TestBoltDiskFullIsNotFatal(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })

	path := filepath.Join(mnt, "raft.db")
	s := openTestBolt(t, path, BoltOptions{})
	mustSave(t, s, hardState(1, 1, 0), entries(1, 10, 1), nil)

	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)
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

// fillDisk writes path until the file system has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			return
		}
	}
}
