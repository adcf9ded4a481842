package actors

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/raftnode/storage"
)

// testNode is a node over stores in dir; stop closes everything like a clean shutdown.
type testNode struct {
	*Node
	store *metastore.Store
	rs    storage.Storage
}

func startTestNode(t testing.TB, dir, mode string, snapshotEvery uint64, tweaks ...func(*Options)) *testNode {
	t.Helper()
	store, err := metastore.Open(filepath.Join(dir, "meta.db"), metastore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var rs storage.Storage
	if mode == "memory" {
		rs = storage.NewMemory()
	} else {
		rs, err = storage.OpenBolt(filepath.Join(dir, "raft.db"), storage.BoltOptions{NoSync: true}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{
		NodeID: 1, Advertise: metastore.Broker{Host: "127.0.0.1", Port: 9092},
		Store: store, RaftStorage: rs, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
		Raft: RaftOptions{Tick: 10 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1, SnapshotEntries: snapshotEvery, ProposalTimeout: 5 * time.Second},
		Data: DataOptions{Dir: filepath.Join(dir, "partitions"), FlushInterval: 50 * time.Millisecond},
	}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	n, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return &testNode{Node: n, store: store, rs: rs}
}

func (tn *testNode) stop(t testing.TB) {
	tn.Stop()
	if err := tn.rs.Close(); err != nil {
		t.Error(err)
	}
	if err := tn.store.Close(); err != nil {
		t.Error(err)
	}
}

func createTopic(t testing.TB, n *Node, name string, partitions int) fsm.Result {
	t.Helper()
	replicas := make([][]int32, partitions)
	for i := range replicas {
		replicas[i] = []int32{1}
	}
	res, err := n.Propose(context.Background(), fsm.Command{CreateTopic: &fsm.CreateTopic{Name: name, ID: metastore.NewUUID(), Replicas: replicas}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// startWithTopic starts a test node (memory Raft storage) with a one-partition topic and
// returns the node and that partition; the caller stops the node.
func startWithTopic(t *testing.T, topic string) (*testNode, TopicPartition) {
	t.Helper()
	n := startTestNode(t, t.TempDir(), "memory", 1000)
	if r := createTopic(t, n.Node, topic, 1); !r.OK() {
		n.stop(t)
		t.Fatal(r.Message)
	}
	return n, TopicPartition{Topic: topic, Partition: 0}
}

func TestProposeAppliesAndAnswers(t *testing.T) {
	for _, mode := range []string{"memory", "bbolt"} {
		t.Run(mode, func(t *testing.T) {
			n := startTestNode(t, t.TempDir(), mode, 1000)
			defer n.stop(t)
			if r := createTopic(t, n.Node, "orders", 3); !r.OK() {
				t.Fatalf("create: %+v", r)
			}
			if r := createTopic(t, n.Node, "orders", 3); r.Code != kerr.TopicAlreadyExists.Code {
				t.Fatalf("second create: %+v, want TOPIC_ALREADY_EXISTS", r)
			}
			img := n.Image()
			if tp := img.Topics["orders"]; tp == nil || len(tp.Partitions) != 3 {
				t.Fatalf("image lacks orders: %v", img.SortedTopicNames())
			}
			if img.ClusterID == "" || img.Brokers[1].Port != 9092 {
				t.Fatalf("cluster id %q brokers %+v", img.ClusterID, img.Brokers)
			}
			st := n.RaftStatus()
			if st.Leader != 1 || st.State != "StateLeader" || st.StorageMode != mode || st.AppliedIndex < 3 {
				t.Fatalf("raft status %+v", st)
			}
		})
	}
}

func TestConcurrentProposalsAreBatched(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "bbolt", 100000)
	defer n.stop(t)
	const total = 400
	errs := make(chan error, total)
	for i := 0; i < total; i++ {
		go func() {
			res, err := n.Propose(context.Background(), fsm.Command{AllocateProducerIDs: &fsm.AllocateProducerIDs{Count: 1}})
			if err == nil && !res[0].OK() {
				err = fmt.Errorf("result %+v", res[0])
			}
			errs <- err
		}()
	}
	for i := 0; i < total; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := n.Image().NextProducerID; got != 1000+total {
		t.Fatalf("next producer id %d, want %d: some allocation was lost or doubled", got, 1000+total)
	}
	if b := n.metrics.applyBatches.Load(); b >= total {
		t.Fatalf("%d proposals took %d metadata commits; they should share commits", total, b)
	}
}

func TestRestartKeepsMetadata(t *testing.T) {
	for _, mode := range []string{"memory", "bbolt"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			n := startTestNode(t, dir, mode, 1000)
			for i := 0; i < 5; i++ {
				if r := createTopic(t, n.Node, fmt.Sprintf("t%d", i), i+1); !r.OK() {
					t.Fatal(r.Message)
				}
			}
			before := n.Image()
			n.stop(t)

			n = startTestNode(t, dir, mode, 1000)
			defer n.stop(t)
			after := n.Image()
			for name, tp := range before.Topics {
				got := after.Topics[name]
				if got == nil || got.ID != tp.ID || len(got.Partitions) != len(tp.Partitions) {
					t.Fatalf("topic %s after restart: %+v, before %+v", name, got, tp)
				}
			}
			if after.ClusterID != before.ClusterID {
				t.Fatalf("cluster id changed %q -> %q", before.ClusterID, after.ClusterID)
			}
			wantMode := "none"
			if mode == "memory" {
				wantMode = "metastore"
			}
			if got := n.RaftStatus().Bootstrap.Mode; got != wantMode {
				t.Fatalf("bootstrap mode %q, want %q", got, wantMode)
			}
			// And it still takes changes.
			if r := createTopic(t, n.Node, "after-restart", 1); !r.OK() {
				t.Fatal(r.Message)
			}
		})
	}
}

func TestSnapshotCompactsLog(t *testing.T) {
	dir := t.TempDir()
	n := startTestNode(t, dir, "bbolt", 20)
	for i := 0; i < 60; i++ {
		if r := createTopic(t, n.Node, fmt.Sprintf("t%02d", i), 1); !r.OK() {
			t.Fatal(r.Message)
		}
	}
	// The snapshot is taken asynchronously after the apply that crosses the threshold.
	if !eventually(10*time.Second, func() bool { return n.rs.Stats().SnapshotIndex >= 40 && n.rs.Stats().FirstIndex > 2 }) {
		t.Fatalf("log not compacted: %+v", n.rs.Stats())
	}
	n.stop(t)
	n = startTestNode(t, dir, "bbolt", 20)
	defer n.stop(t)
	if got := len(n.Image().Topics); got != 60 {
		t.Fatalf("%d topics after restart from a compacted log, want 60", got)
	}
}

func TestActorPanicRestartsOnlyThatActor(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "bbolt", 1000)
	defer n.stop(t)
	for _, id := range []string{"node/applier", "node/raft-storage", "node/raft-loop", "node/proposer"} {
		if !n.InjectPanic(id) {
			t.Fatalf("no actor %s; actors: %+v", id, n.Actors())
		}
		if !eventually(10*time.Second, func() bool { return n.reg.get(id).restarts.Load() == 1 }) {
			t.Fatalf("%s not restarted", id)
		}
		// The node keeps serving metadata changes after the restart.
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := n.Propose(context.Background(), fsm.Command{AllocateProducerIDs: &fsm.AllocateProducerIDs{Count: 1}})
			if err == nil && res[0].OK() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no metadata change applied after %s restarted: %v", id, err)
			}
		}
	}
	var found bool
	for _, a := range n.Actors() {
		if a.ID == "node/applier" {
			found = true
			if a.Restarts != 1 || a.LastPanic == "" {
				t.Fatalf("applier stats %+v", a)
			}
		}
	}
	if !found {
		t.Fatal("applier missing from the actor list")
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// A bbolt Raft log left behind while the node ran in memory mode is older than the
// metadata store; appending to it would reuse applied indexes. Bootstrap rebuilds it.
func TestStaleRaftLogIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	n := startTestNode(t, dir, "bbolt", 1000)
	createTopic(t, n.Node, "from-bbolt", 1)
	n.stop(t)
	n = startTestNode(t, dir, "memory", 1000)
	for i := 0; i < 5; i++ {
		createTopic(t, n.Node, fmt.Sprintf("from-memory-%d", i), 1)
	}
	n.stop(t)

	n = startTestNode(t, dir, "bbolt", 1000)
	defer n.stop(t)
	if got := n.RaftStatus().Bootstrap.Mode; got != "metastore" {
		t.Fatalf("bootstrap mode %q, want the stale log rebuilt from the metastore", got)
	}
	if r := createTopic(t, n.Node, "after", 1); !r.OK() {
		t.Fatalf("create after switching back to bbolt: %+v", r)
	}
	if got := len(n.Image().Topics); got != 7 {
		t.Fatalf("%d topics, want 7: %v", got, n.Image().SortedTopicNames())
	}
}

// A snapshot taken at the last applied index must not leave the durable commit index
// below it: raft refuses to start from such a log.
func TestRestartAfterSnapshotAtTheLastEntry(t *testing.T) {
	dir := t.TempDir()
	n := startTestNode(t, dir, "bbolt", 5)
	// Create topics one at a time until a snapshot lands on the last applied entry.
	topics := 0
	for n.rs.Stats().SnapshotIndex != n.Image().Index || topics == 0 {
		if topics == 20 {
			t.Fatalf("no snapshot at the last applied index: %+v, applied %d", n.rs.Stats(), n.Image().Index)
		}
		if r := createTopic(t, n.Node, fmt.Sprintf("s%02d", topics), 1); !r.OK() {
			t.Fatal(r.Message)
		}
		topics++
		eventually(200*time.Millisecond, func() bool { return n.rs.Stats().SnapshotIndex == n.Image().Index })
	}
	n.stop(t)
	n = startTestNode(t, dir, "bbolt", 5)
	defer n.stop(t)
	if got := len(n.Image().Topics); got != topics {
		t.Fatalf("%d topics after restart, want %d", got, topics)
	}
}
