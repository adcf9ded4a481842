package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/wire"
)

// The wire server and handlers take Metrics as their observers.
var (
	_ wire.Observer     = (*Metrics)(nil)
	_ wire.DataObserver = (*Metrics)(nil)
)

// fakeSource is a node snapshot the tests control.
type fakeSource struct {
	mu         sync.Mutex
	raft       actors.RaftStatus
	latency    actors.LatencySnapshot
	kinds      []actors.KindStat
	partitions []actors.PartitionInfo
	under, off int
	groups     []actors.GroupView
}

func (f *fakeSource) RaftStatus() actors.RaftStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.raft
}
func (f *fakeSource) CommitLatency() actors.LatencySnapshot { return f.latency }
func (f *fakeSource) ActorKinds() []actors.KindStat         { return f.kinds }
func (f *fakeSource) Partitions() []actors.PartitionInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.partitions
}
func (f *fakeSource) ReplicationHealth() (int, int)  { return f.under, f.off }
func (f *fakeSource) GroupsView() []actors.GroupView { return f.groups }
func (f *fakeSource) CompressionStats() actors.CompressionStats {
	return actors.CompressionStats{}
}
func (f *fakeSource) CleanerStats() actors.CleanerStats { return actors.CleanerStats{} }

func newFake() *fakeSource {
	return &fakeSource{
		raft:    actors.RaftStatus{NodeID: 1, Term: 3, Leader: 1, CommitIndex: 40, AppliedIndex: 39, LeaderChanges: 2, ProposalsPending: 1, CommandsApplied: 39},
		latency: actors.LatencySnapshot{Count: 3, Sum: 0.006, Buckets: map[float64]uint64{0.001: 1, 0.01: 3}},
		kinds: []actors.KindStat{
			{Kind: "partition", Actors: 2, MailboxDepth: 5, Processed: 900, Restarts: 1},
			{Kind: "raft-loop", Actors: 1, Processed: 50},
		},
		partitions: []actors.PartitionInfo{{Topic: "orders", Partition: 0, Leader: true, LogStartOffset: 2, HighWatermark: 10, LogEndOffset: 12, SizeBytes: 4096}},
		groups: []actors.GroupView{{
			Group: "billing", State: "Stable", Members: []actors.GroupMemberView{{MemberID: "a"}, {MemberID: "b"}},
			Partitions: []actors.GroupPartitionView{
				{Topic: "orders", Partition: 0, CommittedOffset: 7, HighWatermark: 10, Lag: 3},
				{Topic: "remote", Partition: 1, CommittedOffset: 7, HighWatermark: -1},
			},
		}},
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	return string(body)
}

func TestCollectorReportsNodeState(t *testing.T) {
	m := New(newFake(), "v1.2.3", zerolog.Nop())
	for _, c := range []struct {
		metric, want string
	}{
		{"chronik_partition_high_watermark", `chronik_partition_high_watermark{partition="0",topic="orders"} 10`},
		{"chronik_partition_log_end_offset", `chronik_partition_log_end_offset{partition="0",topic="orders"} 12`},
		{"chronik_partition_log_start_offset", `chronik_partition_log_start_offset{partition="0",topic="orders"} 2`},
		{"chronik_partition_size_bytes", `chronik_partition_size_bytes{partition="0",topic="orders"} 4096`},
		{"chronik_partitions_under_replicated", `chronik_partitions_under_replicated 0`},
		{"chronik_raft_term", `chronik_raft_term 3`},
		{"chronik_raft_is_leader", `chronik_raft_is_leader 1`},
		{"chronik_raft_leader_changes_total", `chronik_raft_leader_changes_total 2`},
		{"chronik_raft_proposals_pending", `chronik_raft_proposals_pending 1`},
		{"chronik_raft_commit_latency_seconds", `chronik_raft_commit_latency_seconds_bucket{le="0.01"} 3`},
		{"chronik_actor_mailbox_depth", `chronik_actor_mailbox_depth{kind="partition"} 5`},
		{"chronik_actor_restarts_total", `chronik_actor_restarts_total{kind="partition"} 1`},
		{"chronik_actor_messages_processed_total", `chronik_actor_messages_processed_total{kind="raft-loop"} 50`},
		{"chronik_consumer_group_lag", `chronik_consumer_group_lag{group="billing",partition="0",topic="orders"} 3`},
		{"chronik_consumer_group_members", `chronik_consumer_group_members{group="billing"} 2`},
		{"chronik_consumer_groups", `chronik_consumer_groups{state="Stable"} 1`},
		{"chronik_build_info", `version="v1.2.3"`},
	} {
		text := scrape(t, m)
		found := false
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, c.metric) && strings.Contains(line, c.want) || line == c.want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no line %q", c.metric, c.want)
		}
	}
	// A partition not hosted here has no known lag and no series.
	if strings.Contains(scrape(t, m), `topic="remote"`) {
		t.Error("lag reported for a partition this node does not host")
	}
}

func TestMetricNamesPassPromlint(t *testing.T) {
	m := New(newFake(), "test", zerolog.Nop())
	m.RequestDone(0, 9, time.Millisecond, 100, 50, 0)
	m.RequestDone(3, 12, time.Millisecond, 100, 50, kerr.NotController.Code)
	m.TopicBytesIn("orders", 10)
	m.TopicBytesOut("orders", 10)
	m.PartitionError(0, kerr.NotLeaderForPartition.Code)
	m.ConnOpened()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "chronik_") {
			ours = append(ours, mf)
		}
	}
	if len(ours) < 30 {
		t.Fatalf("only %d chronik_ metric families gathered", len(ours))
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestRequestMetricsCount(t *testing.T) {
	m := New(newFake(), "test", zerolog.Nop())
	m.RequestDone(0, 9, 2*time.Millisecond, 1000, 60, 0)
	m.RequestDone(0, 9, 3*time.Millisecond, 500, 60, 0)
	m.RequestDone(1, 13, time.Millisecond, 80, 0, kerr.UnknownServerError.Code)
	m.RequestDone(0, 900, time.Millisecond, 10, 10, 0) // a bogus version
	m.RequestDone(19, 7, time.Millisecond, 10, 10, 12345)

	if got := testutil.ToFloat64(m.requests.WithLabelValues("Produce", "9")); got != 2 {
		t.Errorf("Produce v9 requests: %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Produce", "other")); got != 1 {
		t.Errorf("out-of-range version not folded into version=\"other\": %v", got)
	}
	if got := testutil.ToFloat64(m.requestBytes.WithLabelValues("Produce")); got != 1510 {
		t.Errorf("Produce request bytes: %v, want 1510", got)
	}
	if got := testutil.ToFloat64(m.responseBytes.WithLabelValues("Fetch")); got != 0 {
		t.Errorf("Fetch response bytes: %v, want 0 (nothing was sent)", got)
	}
	if got := testutil.ToFloat64(m.requestErrors.WithLabelValues("Fetch", "UNKNOWN_SERVER_ERROR")); got != 1 {
		t.Errorf("Fetch handler failures: %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.requestErrors.WithLabelValues("CreateTopics", "CODE_12345")); got != 1 {
		t.Errorf("unknown error code: %v, want 1 under CODE_12345", got)
	}
	for key := int16(100); key < 200; key++ {
		m.RequestDone(key, key, time.Millisecond, 10, 10, 0)
	}
	cached := 0
	m.perRequest.Range(func(any, any) bool { cached++; return true })
	if cached != 5 {
		t.Errorf("%d cached label sets after 100 unknown keys, want 5 (they fold into one)", cached)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Unknown", "other")); got != 100 {
		t.Errorf("unknown API keys: %v requests under Unknown/other, want 100", got)
	}
	if got := testutil.CollectAndCount(m.latency); got != 5 {
		t.Errorf("latency series: %d, want 5 (Produce v9, Produce other, Fetch v13, CreateTopics v7, Unknown other)", got)
	}
	m.ConnOpened()
	m.ConnOpened()
	m.ConnClosed()
	if got := testutil.ToFloat64(m.connections); got != 1 {
		t.Errorf("open connections: %v, want 1", got)
	}
}

func TestDeletedTopicSeriesAreDropped(t *testing.T) {
	m := New(newFake(), "test", zerolog.Nop())
	m.TopicBytesIn("gone", 100)
	m.TopicBytesIn("kept", 100)
	m.TopicBytesOut("gone", 40)
	img := metastore.NewImage()
	img.Topics["kept"] = &metastore.Topic{Name: "kept"}
	m.TopicsChanged(img, []string{"gone", "kept"})
	text := scrape(t, m)
	if strings.Contains(text, `topic="gone"`) {
		t.Error("series of a deleted topic survived")
	}
	if !strings.Contains(text, `chronik_topic_bytes_in_total{topic="kept"} 100`) {
		t.Error("series of a topic that still exists was dropped")
	}
}

func TestScrapeSeesChangingState(t *testing.T) {
	src := newFake()
	m := New(src, "test", zerolog.Nop())
	before := scrape(t, m)
	src.mu.Lock()
	src.partitions = []actors.PartitionInfo{{Topic: "orders", Partition: 0, HighWatermark: 99, LogEndOffset: 99}}
	src.raft.Term = 4
	src.mu.Unlock()
	after := scrape(t, m)
	if !strings.Contains(before, `chronik_raft_term 3`) || !strings.Contains(after, `chronik_raft_term 4`) {
		t.Error("raft term not read at scrape time")
	}
	if !strings.Contains(after, `chronik_partition_high_watermark{partition="0",topic="orders"} 99`) {
		t.Error("high watermark not read at scrape time")
	}
}

func BenchmarkRequestDone(b *testing.B) {
	m := New(newFake(), "bench", zerolog.Nop())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RequestDone(0, 9, time.Millisecond, 1024, 64, 0)
		}
	})
}

func BenchmarkTopicBytesIn(b *testing.B) {
	m := New(newFake(), "bench", zerolog.Nop())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.TopicBytesIn("orders", 1024)
		}
	})
}

func BenchmarkScrape(b *testing.B) {
	src := newFake()
	for i := range 1000 {
		src.partitions = append(src.partitions, actors.PartitionInfo{Topic: "t", Partition: int32(i)})
	}
	m := New(src, "bench", zerolog.Nop())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
