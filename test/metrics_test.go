package test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// scrape is one parse of the node's /metrics.
type scrape struct {
	raw      []byte
	families map[string]*dto.MetricFamily
}

func (n *node) scrapeMetrics() scrape {
	n.t.Helper()
	// A node that stopped answering fails the test rather than hanging it.
	client := http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get("http://" + n.debugAddr + "/metrics")
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		n.t.Fatalf("GET /metrics: %s %v", resp.Status, err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		n.t.Fatalf("/metrics is not valid Prometheus text: %v", err)
	}
	return scrape{raw: raw, families: families}
}

// sum adds the values of every series of name whose labels include all of match.
func (s scrape) sum(name string, match ...string) float64 {
	mf := s.families[name]
	if mf == nil {
		return 0
	}
	total := 0.0
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if labels[match[i]] != match[i+1] {
				ok = false
			}
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	n := startNode(t, "")
	before := n.scrapeMetrics()
	ctx := testContext(t)
	if _, err := n.admin().CreateTopic(ctx, 2, 1, nil, "metered"); err != nil {
		t.Fatal(err)
	}
	// Uncompressed, so the batch bytes bound the value bytes from above.
	prod := n.client(kgo.DefaultProduceTopic("metered"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	var recs []*kgo.Record
	valueBytes := 0
	for i := range 200 {
		v := []byte(fmt.Sprintf("value-%04d-%s", i, strings.Repeat("x", 40)))
		valueBytes += len(v)
		recs = append(recs, &kgo.Record{Value: v})
	}
	produceAll(t, prod, recs)
	consumeN(t, n, "metered", len(recs))

	// A produce to a partition that does not exist is answered with a partition error.
	bad := kmsg.NewPtrProduceRequest()
	bad.Acks, bad.TimeoutMillis = 1, 5000
	bt := kmsg.NewProduceRequestTopic()
	bt.Topic = "metered"
	bp := kmsg.NewProduceRequestTopicPartition()
	bp.Partition, bp.Records = 99, nil
	bt.Partitions = append(bt.Partitions, bp)
	bad.Topics = append(bad.Topics, bt)
	resp, err := bad.RequestWith(ctx, prod)
	if err != nil {
		t.Fatal(err)
	}
	badCode := resp.Topics[0].Partitions[0].ErrorCode
	if badCode == 0 {
		t.Fatal("produce to partition 99 of a 2-partition topic succeeded")
	}

	after := n.scrapeMetrics()
	grew := func(name string, match ...string) {
		t.Helper()
		if b, a := before.sum(name, match...), after.sum(name, match...); a <= b {
			t.Errorf("%s%v did not grow with traffic: %v then %v", name, match, b, a)
		}
	}
	grew("chronik_requests_total", "api", "Produce")
	grew("chronik_requests_total", "api", "Fetch")
	grew("chronik_requests_total", "api", "CreateTopics")
	grew("chronik_request_duration_seconds", "api", "Produce")
	grew("chronik_request_bytes_total", "api", "Produce")
	grew("chronik_response_bytes_total", "api", "Fetch")
	grew("chronik_connections_opened_total")
	grew("chronik_raft_entries_applied_total")
	grew("chronik_raft_commit_latency_seconds")
	grew("chronik_actor_messages_processed_total", "kind", "partition")

	if got := after.sum("chronik_topic_bytes_in_total", "topic", "metered"); got < float64(valueBytes) {
		t.Errorf("bytes in for metered: %v, want at least the %d value bytes produced", got, valueBytes)
	}
	if got := after.sum("chronik_topic_bytes_out_total", "topic", "metered"); got < float64(valueBytes) {
		t.Errorf("bytes out for metered: %v, want at least the %d value bytes consumed", got, valueBytes)
	}
	for _, name := range []string{"chronik_partition_high_watermark", "chronik_partition_log_end_offset"} {
		if got := after.sum(name, "topic", "metered"); got != float64(len(recs)) {
			t.Errorf("%s summed over metered's partitions: %v, want %d", name, got, len(recs))
		}
	}
	if got := after.sum("chronik_partition_log_start_offset", "topic", "metered"); got != 0 {
		t.Errorf("log start offsets of metered: %v, want 0", got)
	}
	if got := after.sum("chronik_partition_size_bytes", "topic", "metered"); got < float64(valueBytes) {
		t.Errorf("size of metered on disk: %v bytes, want at least %d", got, valueBytes)
	}
	errName := kerr.ErrorForCode(badCode).(*kerr.Error).Message
	if got := after.sum("chronik_partition_errors_total", "api", "Produce", "error", errName); got < 1 {
		t.Errorf("partition error %s not counted", errName)
	}
	if got := after.sum("chronik_raft_term"); got < 1 {
		t.Errorf("raft term %v", got)
	}
	if got := after.sum("chronik_raft_leader_changes_total"); got < 1 {
		t.Errorf("leader changes %v, want at least this node's own election", got)
	}
	if got := after.sum("chronik_connections"); got < 1 {
		t.Errorf("open connections %v while clients are connected", got)
	}
	for _, name := range []string{"chronik_partitions_under_replicated", "chronik_partitions_offline", "chronik_raft_proposals_pending"} {
		if _, ok := after.families[name]; !ok {
			t.Errorf("%s missing", name)
		} else if got := after.sum(name); got != 0 {
			t.Errorf("%s = %v on a healthy idle single node", name, got)
		}
	}
	for _, name := range []string{"chronik_actor_mailbox_depth", "chronik_actor_restarts_total", "go_goroutines", "process_resident_memory_bytes", "chronik_build_info"} {
		if _, ok := after.families[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}

	problems, err := promlint.New(bytes.NewReader(after.raw)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "chronik_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}

func TestMetricsCountActorRestarts(t *testing.T) {
	n := startNode(t, "")
	before := n.scrapeMetrics().sum("chronik_actor_restarts_total", "kind", "applier")
	resp, err := http.Post("http://"+n.debugAddr+"/debug/panic?actor=node/applier", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, 10*time.Second, "the applier's restart in /metrics", func() bool {
		return n.scrapeMetrics().sum("chronik_actor_restarts_total", "kind", "applier") == before+1
	})
}

// Consumer group lag is exported for the groups this node coordinates.
func TestMetricsShowConsumerGroupLag(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	adm := n.admin()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "lagging"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, &kgo.Record{Topic: "lagging", Value: []byte{byte(i)}})
	}
	produceAll(t, n.client(), recs)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "lagging", Partition: 0, At: 4, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, "lagger", offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	s := n.scrapeMetrics()
	if lag := s.sum("chronik_consumer_group_lag", "group", "lagger", "topic", "lagging", "partition", "0"); lag != 6 {
		t.Fatalf("chronik_consumer_group_lag = %v, want 6 (high watermark 10, committed 4)", lag)
	}
	if groups := s.sum("chronik_consumer_groups", "state", "Empty"); groups != 1 {
		t.Fatalf("chronik_consumer_groups{state=Empty} = %v, want 1", groups)
	}

	// A negative commit (kafkajs's resetOffsets writes -1 for "latest") names no position:
	// its lag is unknown, as kafka-consumer-groups.sh shows it ("-"), not the high
	// watermark plus one.
	reset := kadm.Offsets{}
	reset.Add(kadm.Offset{Topic: "lagging", Partition: 0, At: -1, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, "reset", reset); err != nil || resp.Error() != nil {
		t.Fatalf("commit -1: %v %v", err, resp.Error())
	}
	if lag := n.scrapeMetrics().sum("chronik_consumer_group_lag", "group", "reset"); lag != 0 {
		t.Fatalf("chronik_consumer_group_lag of a group reset to -1 = %v, want 0 (unknown)", lag)
	}
	if g, _ := n.group("reset"); len(g.Offsets) != 1 || g.Offsets[0].CommittedOffset != -1 || g.Offsets[0].Lag != -1 || g.TotalLag != 0 {
		t.Fatalf("/debug/groups for a group reset to -1: %+v; want lag -1 (unknown) and total 0", g)
	}
}

// The compression counters say what the broker did with compressed batches: checked,
// refused, stored unchecked, and rewritten for a topic's compression.type.
func TestMetricsCountCompressedBatches(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "counted", 1, map[string]string{"compression.type": "lz4"})
	cl := n.rawClient()
	opts := batchtest.DefaultOptions(time.Now().UnixMilli())
	opts.Codec = batch.CodecGzip
	for range 3 {
		if r := produceRaw(t, cl, "counted", 0, batchtest.Build(opts, batchtest.Values(10, 50))); r.ErrorCode != 0 {
			t.Fatalf("produce: error %d", r.ErrorCode)
		}
	}
	// A gzip batch whose records section is damaged, with its CRC made to match.
	bad := batchtest.Build(opts, batchtest.Values(10, 50))
	for i := batch.HeaderSize + 10; i < len(bad)-10; i++ {
		bad[i] ^= 0x33
	}
	binary.BigEndian.PutUint32(bad[17:], batch.Checksum(bad))
	if r := produceRaw(t, cl, "counted", 0, bad); r.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("damaged gzip batch: error %d, want INVALID_RECORD", r.ErrorCode)
	}
	// Records that inflate past the 32 MiB check bound: stored unchecked.
	opts.Codec = batch.CodecZstd
	inflating := make([]batchtest.Record, 40)
	for i := range inflating {
		inflating[i] = batchtest.Record{Value: make([]byte, 1<<20)}
	}
	if r := produceRaw(t, cl, "counted", 0, batchtest.Build(opts, inflating)); r.ErrorCode != 0 {
		t.Fatalf("inflating zstd batch: error %d", r.ErrorCode)
	}
	s := n.scrapeMetrics()
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"checked", s.sum("chronik_produce_compressed_batches_total", "result", "checked"), 3},
		{"refused", s.sum("chronik_produce_compressed_batches_total", "result", "refused"), 1},
		{"unchecked", s.sum("chronik_produce_compressed_batches_total", "result", "unchecked"), 1},
		{"recompressed", s.sum("chronik_produce_recompressed_batches_total"), 3},
	} {
		if c.got != c.want {
			t.Errorf("compressed batches %s: %v, want %v", c.what, c.got, c.want)
		}
	}
}
