package test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestGroupAdministration lists, describes and deletes groups, deletes offsets and
// computes lag with kadm, and checks the debug endpoint's view of the same groups.
func TestGroupAdministration(t *testing.T) {
	n := startNode(t, groupConfig)
	ctx := testContext(t)
	adm := n.admin()
	const topic = "adm"
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produceNumbered(t, n, topic, 0, 30) // 10 per partition

	l := newLedger()
	active := startGroupMember(t, n, "active", topic, "worker", l)
	eventually(t, 20*time.Second, "the active group to consume everything", func() bool { return l.count() == 30 })

	// A standalone commit (generation -1) creates an empty group holding offsets.
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 4, LeaderEpoch: -1, Metadata: "by hand"})
	os.Add(kadm.Offset{Topic: topic, Partition: 1, At: 7, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "idle", os); err != nil {
		t.Fatalf("standalone commit: %v", err)
	}

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := listed["active"]; g.State != "Stable" || g.ProtocolType != "consumer" {
		t.Fatalf("active group listed as %+v", g)
	}
	if g := listed["idle"]; g.State != "Empty" || len(listed) != 2 {
		t.Fatalf("listing %+v", listed)
	}
	if empty, err := adm.ListGroups(ctx, "empty"); err != nil || len(empty) != 1 || empty["idle"].Group != "idle" {
		t.Fatalf("state filter Empty: %+v %v", empty, err)
	}

	described, err := adm.DescribeGroups(ctx, "active", "idle")
	if err != nil {
		t.Fatal(err)
	}
	d := described["active"]
	if d.Err != nil || d.State != "Stable" || d.Protocol != "cooperative-sticky" || len(d.Members) != 1 || d.Members[0].ClientID != "worker" {
		t.Fatalf("describe active: %+v", d)
	}
	if ca, ok := d.Members[0].Assigned.AsConsumer(); !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != 3 {
		t.Fatalf("active member's assignment: %+v", d.Members[0].Assigned)
	}
	if d := described["idle"]; d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("describe idle: %+v", d)
	}

	eventually(t, 10*time.Second, "the active group's commits to catch up", func() bool {
		lags, err := adm.Lag(ctx, "active")
		l := lags["active"]
		return err == nil && l.Error() == nil && l.Lag.Total() == 0
	})
	lags, err := adm.Lag(ctx, "idle")
	idleLag := lags["idle"]
	if err != nil || idleLag.Error() != nil {
		t.Fatalf("lag: %v %v", err, idleLag.Error())
	}
	if got := idleLag.Lag.TotalByTopic()[topic].Lag; got != (10-4)+(10-7)+10 {
		t.Fatalf("idle group's lag %d, want 19 (partition 2 has no commit: all 10)", got)
	}
	dg, _ := n.group("idle")
	if dg.TotalLag != 9 || len(dg.Offsets) != 2 || dg.Offsets[0].Lag != 6 || dg.Offsets[0].HighWatermark != 10 {
		t.Fatalf("/debug/groups for idle: %+v", dg)
	}

	// Offsets of an empty group can go; those of a topic a live group reads cannot.
	del, err := adm.DeleteOffsets(ctx, "idle", kadm.TopicsSet{topic: {0: {}}})
	if err != nil || del.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, del.Error())
	}
	fetched, err := adm.FetchOffsets(ctx, "idle")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fetched.Lookup(topic, 0); ok {
		t.Fatalf("deleted offset still fetched: %+v", fetched)
	}
	if o, ok := fetched.Lookup(topic, 1); !ok || o.At != 7 {
		t.Fatalf("remaining offset: %+v", fetched)
	}
	del, err = adm.DeleteOffsets(ctx, "active", kadm.TopicsSet{topic: {0: {}}})
	if err != nil || !errors.Is(del[topic][0], kerr.GroupSubscribedToTopic) {
		t.Fatalf("delete offsets of a subscribed topic: %v %+v", err, del)
	}

	if r, _ := adm.DeleteGroup(ctx, "active"); !errors.Is(r.Err, kerr.NonEmptyGroup) {
		t.Fatalf("delete active group: %v", r.Err)
	}
	if r, err := adm.DeleteGroup(ctx, "idle"); err != nil || r.Err != nil {
		t.Fatalf("delete idle group: %v %v", err, r.Err)
	}
	if r, _ := adm.DeleteGroup(ctx, "idle"); !errors.Is(r.Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete it again: %v", r.Err)
	}
	if fetched, _ := adm.FetchOffsets(ctx, "idle"); len(fetched) != 0 {
		t.Fatalf("a deleted group's offsets: %+v", fetched)
	}
	active.close()
	eventually(t, 10*time.Second, "the active group to empty", func() bool {
		g, _ := adm.ListGroups(ctx, "Empty")
		return g["active"].Group == "active"
	})
	if r, err := adm.DeleteGroup(ctx, "active"); err != nil || r.Err != nil {
		t.Fatalf("delete the emptied group: %v %v", err, r.Err)
	}
	if listed, _ := adm.ListGroups(ctx); len(listed) != 0 {
		t.Fatalf("groups left: %+v", listed)
	}
}

// TestOldGroupProtocolVersions runs a consumer group at the versions kafka-go speaks
// (JoinGroup v1, SyncGroup, Heartbeat and LeaveGroup v0, OffsetCommit v2, OffsetFetch
// v1, FindCoordinator v0) and checks standalone OffsetCommit/OffsetFetch v0.
func TestOldGroupProtocolVersions(t *testing.T) {
	n := startNode(t, groupConfig)
	const topic = "old"
	if _, err := n.admin().CreateTopic(testContext(t), 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produceNumbered(t, n, topic, 0, 20)
	old := kversion.Stable()
	for key, v := range map[int16]int16{8: 2, 9: 1, 10: 0, 11: 1, 12: 0, 13: 0, 14: 0} {
		old.SetMaxKeyVersion(key, v)
	}
	got := consumeAndCommit(t, n, "old-group", topic, 20, kgo.MaxVersions(old), kgo.Balancers(kgo.RangeBalancer()))
	if len(got) != 20 {
		t.Fatalf("consumed %d", len(got))
	}
	if got := fetchV(t, n, old, "old-group", topic, 0, 1); got != "0:10 1:10" {
		t.Fatalf("offsets committed through OffsetCommit v2, fetched with v1: %s", got)
	}

	v0 := kversion.Stable()
	v0.SetMaxKeyVersion(8, 0)
	v0.SetMaxKeyVersion(9, 0)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: 1, At: 3, LeaderEpoch: -1})
	if err := kadm.NewClient(n.client(kgo.MaxVersions(v0))).CommitAllOffsets(testContext(t), "v0-group", os); err != nil {
		t.Fatalf("offset commit v0: %v", err)
	}
	if got := fetchV(t, n, v0, "v0-group", topic, 0, 1); got != "0:-1 1:3" {
		t.Fatalf("v0 round trip: %s (a partition without a commit reads -1)", got)
	}
}

// fetchV sends an OffsetFetch at the versions given (v0 and v1 must name the topics)
// and renders the answer as "partition:offset ...".
func fetchV(t *testing.T, n *node, versions *kversion.Versions, group, topic string, partitions ...int32) string {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, partitions
	req.Topics = []kmsg.OffsetFetchRequestTopic{rt}
	resp, err := req.RequestWith(testContext(t), n.client(kgo.MaxVersions(versions)))
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("offset fetch v%d %s/%d: %v", resp.Version, rt.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
			parts = append(parts, fmt.Sprintf("%d:%d", p.Partition, p.Offset))
		}
	}
	return strings.Join(parts, " ")
}
