package test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeAndCommit joins the group with a fresh kgo consumer, polls exactly want
// records, commits them and leaves. It returns the records.
func consumeAndCommit(t *testing.T, n *node, group, topic string, want int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(n.kafkaAddr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(heartbeatEvery), kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollRecords(ctx, want-len(got))
		if ctx.Err() != nil {
			t.Fatalf("polled %d of %d records before the deadline", len(got), want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got = append(got, fs.Records()...)
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return got
}

func produceNumbered(t *testing.T, n *node, topic string, from, count int) {
	t.Helper()
	cl := n.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var recs []*kgo.Record
	for i := from; i < from+count; i++ {
		recs = append(recs, &kgo.Record{Value: []byte(strconv.Itoa(i))})
	}
	produceAll(t, cl, recs)
}

// firstOffsets is the smallest offset consumed per partition.
func firstOffsets(recs []*kgo.Record) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range recs {
		if o, ok := out[r.Partition]; !ok || r.Offset < o {
			out[r.Partition] = r.Offset
		}
	}
	return out
}

// TestCommittedOffsetsResume commits, then resumes from the committed offsets with a new
// consumer, and again after the broker is killed with SIGKILL right after a commit was
// acknowledged.
func TestCommittedOffsetsResume(t *testing.T) {
	n := startNode(t, groupConfig)
	const topic, group = "ledger", "resumers"
	adm := n.admin()
	ctx := testContext(t)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produceNumbered(t, n, topic, 0, 300)

	first := consumeAndCommit(t, n, group, topic, 120)
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil || committed.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, committed.Error())
	}
	var sum int64
	committed.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != 120 {
		t.Fatalf("committed offsets sum to %d after consuming 120 records: %+v", sum, committed)
	}

	// A new consumer in the group starts where the first stopped.
	second := consumeAndCommit(t, n, group, topic, 180)
	for p, o := range firstOffsets(second) {
		if c, _ := committed.Lookup(topic, p); c.At != o {
			t.Fatalf("partition %d resumed at %d, committed %d", p, o, c.At)
		}
	}
	seen := map[string]bool{}
	for _, r := range append(first, second...) {
		if seen[string(r.Value)] {
			t.Fatalf("record %s consumed twice across a consumer restart", r.Value)
		}
		seen[string(r.Value)] = true
	}
	if len(seen) != 300 {
		t.Fatalf("%d distinct records consumed, want 300", len(seen))
	}

	// The commit of the second consumer was acknowledged; kill -9 at once.
	before, _ := adm.FetchOffsets(ctx, group)
	n.restart()
	adm = n.admin()
	after, err := adm.FetchOffsets(ctx, group)
	if err != nil || after.Error() != nil {
		t.Fatalf("fetch offsets after restart: %v %v", err, after.Error())
	}
	for _, p := range []int32{0, 1, 2} {
		b, _ := before.Lookup(topic, p)
		a, _ := after.Lookup(topic, p)
		if a.At != b.At || a.At != 100 {
			t.Fatalf("partition %d: committed %d before kill -9, %d after (want 100)", p, b.At, a.At)
		}
	}
	produceNumbered(t, n, topic, 300, 60)
	third := consumeAndCommit(t, n, group, topic, 60)
	for _, r := range third {
		if v, _ := strconv.Atoi(string(r.Value)); v < 300 {
			t.Fatalf("after the broker restart the group re-consumed record %d", v)
		}
	}
	if got := fmt.Sprint(firstOffsets(third)); got != "map[0:100 1:100 2:100]" {
		t.Fatalf("resumed at %s after the broker restart", got)
	}
}

// TestStaticMembersSurviveBrokerRestart keeps a group of two static kgo members through
// a kill -9 of the broker: the coordinator restores the stored generation, the members'
// heartbeats are accepted again and no rebalance happens.
func TestStaticMembersSurviveBrokerRestart(t *testing.T) {
	n := startNode(t, groupConfig)
	const topic, group = "steady", "statics"
	if _, err := n.admin().CreateTopic(testContext(t), 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	var members []*groupMember
	for _, name := range []string{"s1", "s2"} {
		members = append(members, startGroupMember(t, n, group, topic, name, l, kgo.InstanceID(name), kgo.SessionTimeout(6*time.Second)))
	}
	eventually(t, 30*time.Second, "two static members sharing the partitions", func() bool { return n.stableWith(group, topic, 2, 4) })
	// Both consume: they got their SyncGroup answers, which the coordinator sends only
	// once the generation is stored.
	produceNumbered(t, n, topic, 0, 40)
	eventually(t, 20*time.Second, "both members consuming", func() bool {
		return members[0].polled.Load() > 0 && members[1].polled.Load() > 0 && l.count() == 40
	})
	before, _ := n.group(group)

	n.restart()
	var restored debugGroup
	eventually(t, 10*time.Second, "the coordinator to start the stored group", func() bool {
		var ok bool
		restored, ok = n.group(group)
		return ok
	})
	if restored.State != "Stable" || restored.Generation != before.Generation || len(restored.Members) != 2 {
		t.Fatalf("group after kill -9: %+v, before: %+v", restored, before)
	}
	// The members carry on: new records are consumed, still in the same generation.
	produceNumbered(t, n, topic, 40, 40)
	eventually(t, 20*time.Second, "records produced after the restart to be consumed", func() bool { return l.count() == 80 })
	after, _ := n.group(group)
	if after.Generation != before.Generation || after.State != "Stable" {
		t.Fatalf("a rebalance happened across the broker restart: generation %d -> %d (%s)", before.Generation, after.Generation, after.State)
	}
	for i := range before.Members {
		if after.Members[i].MemberID != before.Members[i].MemberID {
			t.Fatalf("member ids changed: %+v -> %+v", before.Members, after.Members)
		}
	}
}
