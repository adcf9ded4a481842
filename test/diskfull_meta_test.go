package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik/chronik-node/internal/disktest"
)

// TestMetadataDiskFullRefusesChangesAndRecovers fills the disk under the metadata (the
// Raft log and the metadata store) while a consumer group is active. Metadata changes
// must be refused with KAFKA_STORAGE_ERROR (offset commits with NOT_COORDINATOR, as
// Kafka's coordinator answers a storage error), while reads and the group go on
// undisturbed; once space is freed changes are taken again without a restart, and after a
// kill -9 every acknowledged change is there and no refused one is.
//
// It used to go wrong twice: the Raft log refused every write after the first failure,
// so the node had no leader (healthz 503, NOT_CONTROLLER for every change) until it was
// restarted, however much space was freed; and each failed write restarted Raft, which
// cost the node its leadership and stopped every consumer group it coordinated.
func TestMetadataDiskFullRefusesChangesAndRecovers(t *testing.T) {
	mnt := disktest.Tmpfs(t, "16m")
	n := startNodeAt(t, filepath.Join(mnt, "data"), groupConfig+"\nraft.proposal_timeout = \"2s\"")
	ctx := testContext(t)
	createTopic(t, n, "kept", 2, nil)
	produceNumbered(t, n, "kept", 0, 20)

	member := n.client(kgo.ConsumeTopics("kept"), kgo.ConsumerGroup("full-group"), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(heartbeatEvery))
	var consumed []*kgo.Record
	for len(consumed) < 20 {
		fs := member.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 20 records", len(consumed))
		}
		consumed = append(consumed, fs.Records()...)
	}
	if err := member.CommitRecords(ctx, consumed[:10]...); err != nil {
		t.Fatalf("commit before the disk filled: %v", err)
	}
	memberID, generation := member.GroupMetadata()

	filler := filepath.Join(mnt, "filler")
	disktest.Fill(t, filler)

	// Create topics until the metadata's files run out of room. The change that finds the
	// disk full may wait for it (REQUEST_TIMED_OUT); those after it are refused at once.
	cl := n.rawClient()
	created := map[string]bool{}
	var refused []string
	for batch := 0; len(refused) == 0; batch++ {
		if batch == 200 {
			t.Fatal("200 CreateTopics of 20 topics each on a full disk, none refused")
		}
		names := make([]string, 20)
		for i := range names {
			names[i] = fmt.Sprintf("t%03d-%02d-%0150d", batch, i, 0)
		}
		start := time.Now()
		switch code := createTopicsRaw(t, cl, names); code {
		case 0:
			for _, name := range names {
				created[name] = true
			}
		case kerr.RequestTimedOut.Code:
		case kerr.KafkaStorageError.Code:
			if took := time.Since(start); took > time.Second {
				t.Fatalf("CreateTopics refused for the full disk after %v, want at once", took)
			}
			refused = names
		default:
			t.Fatalf("CreateTopics on a full disk: %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(code))
		}
	}
	// The operator sees why: in /debug/raft and in /metrics.
	if !n.metadataDiskFull() {
		t.Fatal("/debug/raft does not say the metadata's disk is full")
	}
	if v := n.scrapeMetrics().sum("chronik_metadata_disk_full"); v != 1 {
		t.Fatalf("chronik_metadata_disk_full = %v on a full disk, want 1", v)
	}
	// An offset commit is refused as Kafka's coordinator refuses one its log cannot take.
	if code := commitRaw(t, n, "full-group", memberID, generation, consumed[15]); code != kerr.NotCoordinator.Code {
		t.Fatalf("offset commit on a full disk: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	// Reads go on, and so does the group: nothing about it needs the disk.
	if names := n.topicNames(ctx); len(names) != 1+len(created) {
		t.Fatalf("%d topics listed on a full disk, want %d", len(names), 1+len(created))
	}
	if got := consumeN(t, n, "kept", 20); len(got) != 20 {
		t.Fatalf("read %d records on a full disk", len(got))
	}
	// Longer than a session: a member whose heartbeats failed would be gone by now.
	time.Sleep(2 * sessionTimeout)
	if id, gen := member.GroupMetadata(); id != memberID || gen != generation {
		t.Fatalf("the group rebalanced while the disk was full: member %s generation %d, was %s %d", id, gen, memberID, generation)
	}
	if g, _ := n.group("full-group"); g.State != "Stable" || len(g.Members) != 1 {
		t.Fatalf("group on a full disk: %+v", g)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var after []string
	eventually(t, 10*time.Second, "a topic created once space was freed", func() bool {
		after = []string{fmt.Sprintf("after-%d", time.Now().UnixNano())}
		return createTopicsRaw(t, cl, after) == 0
	})
	created[after[0]] = true
	if n.metadataDiskFull() {
		t.Fatal("/debug/raft still says the metadata's disk is full after a change was applied")
	}
	if err := member.CommitRecords(ctx, consumed[15]); err != nil {
		t.Fatalf("commit once space was freed: %v", err)
	}

	n.restart() // kill -9
	listed := map[string]bool{}
	for _, name := range n.topicNames(testContext(t)) {
		listed[name] = true
	}
	for name := range created {
		if !listed[name] {
			t.Fatalf("topic %s was acknowledged but is gone after a restart", name)
		}
	}
	for _, name := range refused {
		if listed[name] {
			t.Fatalf("topic %s was refused but exists after a restart", name)
		}
	}
	resumed := n.client(kgo.ConsumeTopics("kept"), kgo.ConsumerGroup("full-group"), kgo.DisableAutoCommit())
	offsets := map[int32]int64{}
	for _, r := range consumed[:16] {
		offsets[r.Partition] = max(offsets[r.Partition], r.Offset+1)
	}
	want := 0
	for _, r := range consumed {
		if r.Offset >= offsets[r.Partition] {
			want++
		}
	}
	var got []*kgo.Record
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for len(got) < want && rctx.Err() == nil {
		got = append(got, resumed.PollFetches(rctx).Records()...)
	}
	for _, r := range got {
		if r.Offset < offsets[r.Partition] {
			t.Fatalf("the group resumed %d/%d, below its committed offset %d", r.Partition, r.Offset, offsets[r.Partition])
		}
	}
	if len(got) != want {
		t.Fatalf("the group resumed with %d records, want %d", len(got), want)
	}
}

// metadataDiskFull reads /debug/raft's metadata_disk_full.
func (n *node) metadataDiskFull() bool {
	var s struct {
		Full bool `json:"metadata_disk_full"`
	}
	n.debugJSON("/debug/raft", &s)
	return s.Full
}

// createTopicsRaw creates single-partition topics in one CreateTopics request and returns
// the first topic's error code (a request fails or succeeds as a whole here).
func createTopicsRaw(t *testing.T, cl kmsg.Requestor, names []string) int16 {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	for _, name := range names {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	return resp.Topics[0].ErrorCode
}

// commitRaw commits r's next offset for a group member and returns the partition's code.
func commitRaw(t *testing.T, n *node, group, memberID string, generation int32, r *kgo.Record) int16 {
	t.Helper()
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(8, 9) // topics by name
	cl := n.client(kgo.MaxVersions(versions), kgo.RequestRetries(0)).SeedBrokers()[0]
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = r.Topic
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch = r.Partition, r.Offset+1, -1
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("OffsetCommit: %v", err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}
