package actors

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// startDataNode is a single node with a data directory, for tests that produce.
func startDataNode(t *testing.T) *Node {
	t.Helper()
	n := startTestNode(t, t.TempDir(), "memory", 1000, func(o *Options) { o.Log = o.Log.Level(zerolog.WarnLevel) })
	t.Cleanup(func() { n.stop(t) })
	return n.Node
}

// produce appends count records to tp and fails the test unless they are acknowledged.
func produce(t *testing.T, n *Node, tp TopicPartition, count int) {
	t.Helper()
	reply := make(chan ProduceReply, 1)
	n.Produce(tp, &ProduceRequest{Records: batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), batchtest.Values(count, 10)), Acks: -1, Reply: reply})
	select {
	case r := <-reply:
		if r.Code != 0 {
			t.Fatalf("produce to %s: error code %d %s", tp, r.Code, r.Message)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("produce to %s not answered", tp)
	}
}

func getPage(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestDebugPageShowsActorsRaftAndPartitions(t *testing.T) {
	n := startDataNode(t)
	if r := createTopic(t, n, "orders", 2); !r.OK() {
		t.Fatal(r.Message)
	}
	produce(t, n, TopicPartition{"orders", 0}, 5)
	produce(t, n, TopicPartition{"orders", 1}, 3)
	h := n.DebugHandler(false)

	code, page := getPage(t, h, "/debug/")
	if code != http.StatusOK {
		t.Fatalf("GET /debug/: %d %s", code, page)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="2">`,
		`data-actor-id="node/partitions/orders-0" data-kind="partition"`,
		`data-actor-id="node/partitions/orders-1" data-kind="partition"`,
		`data-actor-id="node/raft-loop" data-kind="raft-loop"`,
		`data-topic="orders" data-partition="0"`,
		`<td class="num hw">5</td>`,  // orders-0's high watermark after 5 records
		`<td class="num leo">3</td>`, // orders-1's log end
		`StateLeader`,
		`No consumer groups.`, // coordinated here, none yet
	} {
		if !strings.Contains(page, want) {
			t.Errorf("debug page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(page)
	}

	// Partition actors are nested under the manager in the tree.
	if !strings.Contains(page, `style="padding-left: 50px" title="node/partitions/orders-0"`) {
		t.Errorf("partition actor not indented two levels under node/partitions:\n%s", page)
	}

	if code, page := getPage(t, h, "/debug/?refresh=0"); code != http.StatusOK || strings.Contains(page, `http-equiv="refresh"`) {
		t.Errorf("refresh=0 should serve a page that does not reload: %d", code)
	}
	if code, _ := getPage(t, h, "/debug/?refresh=soon"); code != http.StatusBadRequest {
		t.Errorf("refresh=soon: status %d, want 400", code)
	}
	if code, _ := getPage(t, h, "/"); code != http.StatusFound {
		t.Errorf("GET /: status %d, want a redirect to /debug/", code)
	}
}

func TestPartitionViewsCarryAssignment(t *testing.T) {
	n := startDataNode(t)
	createTopic(t, n, "events", 2)
	produce(t, n, TopicPartition{"events", 0}, 4)
	views := n.PartitionViews()
	if len(views) != 2 {
		t.Fatalf("partition views %+v", views)
	}
	v := views[0]
	if !v.Open || v.LeaderID != 1 || len(v.Replicas) != 1 || v.Replicas[0] != 1 || len(v.ISR) != 1 || v.HighWatermark != 4 || v.SizeBytes == 0 {
		t.Fatalf("partition view of events-0 %+v", v)
	}
	// events-1 never saw a request: listed from the metadata, offsets unknown.
	if u := views[1]; u.Open || u.Partition != 1 || !u.Leader || u.LeaderID != 1 || u.HighWatermark != -1 {
		t.Fatalf("partition view of the unopened events-1 %+v", u)
	}
	if under, offline := n.ReplicationHealth(); under != 0 || offline != 0 {
		t.Fatalf("single node reports %d under-replicated, %d offline", under, offline)
	}
}

func TestGroupsViewHook(t *testing.T) {
	n := startDataNode(t)
	createTopic(t, n, "clicks", 1)
	tp := TopicPartition{"clicks", 0}
	produce(t, n, tp, 10)
	n.SetGroupsView(func() []GroupView {
		return []GroupView{
			{Group: "zeta", State: "Empty"},
			{Group: "alpha", State: "Stable", Generation: 3, Members: []GroupMemberView{{MemberID: "m-1", ClientID: "svc"}},
				Partitions: []GroupPartitionView{n.GroupPartition(tp, 4), n.GroupPartition(TopicPartition{"elsewhere", 0}, 7)}},
		}
	})
	groups := n.GroupsView()
	if len(groups) != 2 || groups[0].Group != "alpha" || groups[1].Group != "zeta" {
		t.Fatalf("groups not sorted by name: %+v", groups)
	}
	p := groups[0].Partitions
	if p[0].HighWatermark != 10 || p[0].Lag != 6 {
		t.Fatalf("lag of a local partition: %+v", p[0])
	}
	if p[1].HighWatermark != -1 || p[1].Lag != 0 {
		t.Fatalf("lag of a partition not hosted here: %+v", p[1])
	}
	if reset := n.GroupPartition(tp, -1); reset.HighWatermark != 10 || reset.Lag != 0 {
		t.Fatalf("lag of a negative commit (no position): %+v, want 0", reset)
	}
	if groups[0].TotalLag() != 6 {
		t.Fatalf("total lag %d", groups[0].TotalLag())
	}
	_, page := getPage(t, n.DebugHandler(false), "/debug/")
	if !strings.Contains(page, `<tr data-group="alpha">`) || !strings.Contains(page, `<td class="num lag">6</td>`) {
		t.Fatalf("debug page does not show the groups:\n%s", page)
	}
}

func TestRaftCountersMove(t *testing.T) {
	n := startDataNode(t)
	st := n.RaftStatus()
	if st.LeaderChanges != 1 {
		t.Fatalf("a fresh single node saw %d leader changes, want 1 (its own election)", st.LeaderChanges)
	}
	before := n.CommitLatency().Count
	for range 3 {
		if _, err := n.Propose(context.Background(), fsm.Command{AllocateProducerIDs: &fsm.AllocateProducerIDs{Count: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	lat := n.CommitLatency()
	if lat.Count != before+3 || lat.Sum <= 0 {
		t.Fatalf("commit latency after 3 proposals: %+v (before: %d)", lat, before)
	}
	if got := n.RaftStatus().ProposalsPending; got != 0 {
		t.Fatalf("%d proposals pending after all were answered", got)
	}
}

func TestActorRatesAndKindTotals(t *testing.T) {
	n := startDataNode(t)
	createTopic(t, n, "rates", 1)
	tp := TopicPartition{"rates", 0}
	id := "node/partitions/rates-0"
	// Produce until a sample older than a second has seen the actor, then the rate
	// covers messages processed since.
	if !eventually(10*time.Second, func() bool {
		produce(t, n, tp, 1)
		for _, a := range n.Actors() {
			if a.ID == id && a.MessagesPerSecond > 0 {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no message rate for %s: %+v", id, n.Actors())
	}

	kind := func() KindStat {
		for _, k := range n.ActorKinds() {
			if k.Kind == "partition" {
				return k
			}
		}
		return KindStat{}
	}
	k := kind()
	if k.Actors != 1 || k.Processed == 0 {
		t.Fatalf("partition kind totals %+v", k)
	}
	// Deleting the topic stops its actor; the kind's totals must not go back.
	res, err := n.Propose(context.Background(), fsm.Command{DeleteTopic: &fsm.DeleteTopic{Name: "rates"}})
	if err != nil || !res[0].OK() {
		t.Fatalf("delete topic: %v %+v", err, res)
	}
	if !eventually(10*time.Second, func() bool { return kind().Actors == 0 }) {
		t.Fatalf("partition actor still live after its topic was deleted: %+v", n.ActorKinds())
	}
	if after := kind(); after.Processed < k.Processed || after.Posted < k.Posted {
		t.Fatalf("kind totals went backwards when the actor stopped: %+v then %+v", k, after)
	}
}

func TestRateSampler(t *testing.T) {
	var s rateSampler
	t0 := time.Now()
	if r := s.baseline(t0).rate("a", 10, t0); r != 0 {
		t.Fatalf("rate without any sample: %v", r)
	}
	s.record(t0, map[string]uint64{"a": 10, "b": 50})
	if b := s.baseline(t0.Add(500 * time.Millisecond)); !b.at.IsZero() {
		t.Fatal("a sample younger than the rate window was used")
	}
	now := t0.Add(2 * time.Second)
	b := s.baseline(now)
	if r := b.rate("a", 30, now); r != 10 {
		t.Fatalf("rate of a: %v, want 10/s", r)
	}
	if r := b.rate("b", 4, now); r != 2 {
		t.Fatalf("rate of an actor restarted under the same name: %v, want 2/s", r)
	}
	if r := b.rate("new", 6, now); r != 3 {
		t.Fatalf("rate of an actor started after the sample: %v, want 3/s", r)
	}
	for i := 1; i <= 5; i++ {
		s.record(t0.Add(time.Duration(i)*time.Second), map[string]uint64{"a": uint64(10 * i)})
	}
	if len(s.samples) != 3 {
		t.Fatalf("sampler keeps %d samples, want 3", len(s.samples))
	}
	// The newest sample at least a second old is the baseline.
	if b := s.baseline(t0.Add(5500 * time.Millisecond)); !b.at.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("baseline at %v", b.at.Sub(t0))
	}
}

func TestRegistryRemoveKeepsNewerActorUnderSameName(t *testing.T) {
	r := newRegistry()
	old := &actorStats{id: "node/partitions/t-0", kind: "partition"}
	old.processed.Store(7)
	r.add(old)
	newer := &actorStats{id: "node/partitions/t-0", kind: "partition"}
	r.add(newer)
	r.remove(old) // the old actor's late Stopped
	if r.get(newer.id) != newer {
		t.Fatal("removing the old actor removed the newer one")
	}
}

func TestLatencyHistogram(t *testing.T) {
	h := newLatencyHistogram(0.001, 0.01, 0.1)
	for _, d := range []time.Duration{500 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 50 * time.Millisecond, 2 * time.Second} {
		h.observe(d)
	}
	s := h.snapshot()
	want := map[float64]uint64{0.001: 2, 0.01: 3, 0.1: 4}
	for b, c := range want {
		if s.Buckets[b] != c {
			t.Errorf("bucket ≤%v: %d, want %d", b, s.Buckets[b], c)
		}
	}
	if s.Count != 5 {
		t.Errorf("count %d, want 5", s.Count)
	}
	if s.Sum < 2.056 || s.Sum > 2.0566 {
		t.Errorf("sum %v, want 2.0565", s.Sum)
	}
}
