package actors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/chronik/chronik-node/internal/disktest"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/raftnode/storage"
)

// spacelessStorage refuses Saves for lack of space while full is set, as bbolt does on a
// full disk (nothing written).
type spacelessStorage struct {
	storage.Storage
	full atomic.Bool
}

func (s *spacelessStorage) Save(hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot) error {
	if s.full.Load() {
		return fmt.Errorf("save raft log: %w", &os.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC})
	}
	return s.Storage.Save(hs, ents, snap)
}

func proposeTopic(n *Node, name string) (fsm.Result, error) {
	res, err := n.Propose(context.Background(), fsm.Command{CreateTopic: &fsm.CreateTopic{Name: name, ID: metastore.NewUUID(), Replicas: [][]int32{{1}}}})
	if err != nil {
		return fsm.Result{}, err
	}
	return res[0], nil
}

// A Raft log that has no room keeps the appends it could not write and writes them once
// there is space: the change waiting for it is applied then, Raft is never rebuilt (a
// rebuild costs the node its leadership and its consumer groups), and changes proposed
// meanwhile are refused at once with KAFKA_STORAGE_ERROR.
func TestRaftLogDiskFullWaitsForSpace(t *testing.T) {
	disk := &spacelessStorage{}
	n := startTestNode(t, t.TempDir(), "memory", 1000, func(o *Options) {
		disk.Storage = o.RaftStorage
		o.RaftStorage = disk
	})
	defer n.stop(t)
	if r := createTopic(t, n.Node, "before", 1); !r.OK() {
		t.Fatal(r.Message)
	}
	incarnation := n.raftIncarnation.Load()

	disk.full.Store(true)
	waiting := make(chan error, 1)
	go func() {
		r, err := proposeTopic(n.Node, "waiting")
		if err == nil && !r.OK() {
			err = errors.New(r.Message)
		}
		waiting <- err
	}()
	if !eventually(5*time.Second, n.metaSpace.full) {
		t.Fatal("the full Raft log was not noticed")
	}
	start := time.Now()
	if _, err := proposeTopic(n.Node, "refused"); !errors.Is(err, ErrMetadataDiskFull) {
		t.Fatalf("a change proposed while the Raft log is full: %v, want ErrMetadataDiskFull", err)
	} else if took := time.Since(start); took > time.Second {
		t.Fatalf("refused after %v, want at once", took)
	}

	disk.full.Store(false)
	if err := <-waiting; err != nil {
		t.Fatalf("the change waiting for space: %v", err)
	}
	if n.metaSpace.full() {
		t.Fatal("still marked full after the write went through")
	}
	if r := createTopic(t, n.Node, "after", 1); !r.OK() {
		t.Fatal(r.Message)
	}
	img := n.Image()
	for name, want := range map[string]bool{"before": true, "waiting": true, "refused": false, "after": true} {
		if _, ok := img.Topics[name]; ok != want {
			t.Fatalf("topic %s exists: %v, want %v", name, ok, want)
		}
	}
	if got := n.raftIncarnation.Load(); got != incarnation {
		t.Fatalf("raft rebuilt %d times for a full disk", got-incarnation)
	}
}

// A metadata store that has no room keeps the committed entries it could not apply and
// applies them once there is space, without restarting Raft; changes proposed meanwhile
// are refused at once.
func TestMetadataStoreDiskFullWaitsForSpace(t *testing.T) {
	mnt := disktest.Tmpfs(t, "1m")
	store, err := metastore.Open(filepath.Join(mnt, "meta.db"), metastore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := startTestNode(t, t.TempDir(), "bbolt", 1000, func(o *Options) { o.Store = store; o.Raft.ProposalTimeout = time.Second })
	defer n.stop(t)
	incarnation := n.raftIncarnation.Load()

	filler := filepath.Join(mnt, "filler")
	disktest.Fill(t, filler)

	acked := map[string]bool{}
	var refused string
	for i := 0; refused == ""; i++ {
		if i == 500 {
			t.Fatal("500 topics created on a full disk, none refused")
		}
		name := fmt.Sprintf("topic-%03d-%0200d", i, 0)
		r, err := proposeTopic(n.Node, name)
		switch {
		case err == nil && r.OK():
			acked[name] = true
		case errors.Is(err, ErrMetadataDiskFull):
			refused = name
		case errors.Is(err, ErrTimeout):
		default:
			t.Fatalf("create %s on a full disk: %v %+v", name, err, r)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { return !n.metaSpace.full() }) {
		t.Fatal("still marked full after space was freed")
	}
	if r := createTopic(t, n.Node, "after", 1); !r.OK() {
		t.Fatal(r.Message)
	}
	acked["after"] = true
	stored, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	for name := range acked {
		if _, ok := stored.Topics[name]; !ok {
			t.Fatalf("acknowledged topic %s is not in the store", name)
		}
	}
	if _, ok := stored.Topics[refused]; ok {
		t.Fatalf("refused topic %s is in the store", refused)
	}
	if got := n.raftIncarnation.Load(); got != incarnation {
		t.Fatalf("raft rebuilt %d times for a full disk", got-incarnation)
	}
}
