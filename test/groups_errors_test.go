package test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// groupClient sends group requests by hand.
type groupClient struct {
	t  *testing.T
	cl *kgo.Client
}

func (c groupClient) join(group, memberID string, instance *string, sessionMs int32) *kmsg.JoinGroupResponse {
	c.t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.InstanceID, req.ProtocolType = group, memberID, instance, "consumer"
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = sessionMs, 3000
	p := kmsg.NewJoinGroupRequestProtocol()
	meta := kmsg.NewConsumerMemberMetadata()
	p.Name, p.Metadata = "range", meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	resp, err := req.RequestWith(testContext(c.t), c.cl)
	if err != nil {
		c.t.Fatalf("join: %v", err)
	}
	return resp
}

// member joins (with the MEMBER_ID_REQUIRED round) and syncs as a lone leader.
func (c groupClient) member(group string, instance *string) (string, int32) {
	c.t.Helper()
	r := c.join(group, "", instance, 2000)
	if r.ErrorCode == kerr.MemberIDRequired.Code {
		r = c.join(group, r.MemberID, instance, 2000)
	}
	if r.ErrorCode != 0 {
		c.t.Fatalf("join %s: %v", group, kerr.ErrorForCode(r.ErrorCode))
	}
	if code := c.sync(group, r.MemberID, instance, r.Generation); code != 0 {
		c.t.Fatalf("sync %s: %v", group, kerr.ErrorForCode(code))
	}
	return r.MemberID, r.Generation
}

func (c groupClient) sync(group, memberID string, instance *string, gen int32) int16 {
	c.t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.MemberID, req.InstanceID, req.Generation = group, memberID, instance, gen
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID = memberID
	req.GroupAssignment = append(req.GroupAssignment, a)
	resp, err := req.RequestWith(testContext(c.t), c.cl)
	if err != nil {
		c.t.Fatalf("sync: %v", err)
	}
	return resp.ErrorCode
}

func (c groupClient) heartbeat(group, memberID string, instance *string, gen int32) int16 {
	c.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.InstanceID, req.Generation = group, memberID, instance, gen
	resp, err := req.RequestWith(testContext(c.t), c.cl)
	if err != nil {
		c.t.Fatalf("heartbeat: %v", err)
	}
	return resp.ErrorCode
}

func (c groupClient) commit(group, memberID string, gen int32, topic string) int16 {
	c.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, memberID, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Offset = 1
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(c.t), c.cl)
	if err != nil {
		c.t.Fatalf("commit: %v", err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if got != want.Code {
		t.Fatalf("%s: got %v, want %s", what, kerr.ErrorForCode(got), want.Message)
	}
}

// TestGroupErrorCodes triggers the error codes clients act on, once each, through the
// wire. (NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE need a node that does not lead
// the metadata Raft group; the actors package tests them.)
func TestGroupErrorCodes(t *testing.T) {
	n := startNode(t, groupConfig)
	if _, err := n.admin().CreateTopic(testContext(t), 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	// OffsetCommit v10 names topics by id only; stay at v9 to name them.
	v9 := kversion.Stable()
	v9.SetMaxKeyVersion(8, 9)
	c := groupClient{t: t, cl: n.client(kgo.MaxVersions(v9))}

	first := c.join("g", "", nil, 2000)
	wantCode(t, "JoinGroup v9 without a member id", first.ErrorCode, kerr.MemberIDRequired)
	if first.MemberID == "" {
		t.Fatal("MEMBER_ID_REQUIRED came without the member id to use")
	}
	wantCode(t, "JoinGroup with a 10ms session timeout", c.join("g", "", nil, 10).ErrorCode, kerr.InvalidSessionTimeout)
	wantCode(t, "JoinGroup with an empty group id", c.join("", "", nil, 2000).ErrorCode, kerr.InvalidGroupID)

	id, gen := c.member("g", nil)
	wantCode(t, "Heartbeat of an unknown member", c.heartbeat("g", "nobody", nil, gen), kerr.UnknownMemberID)
	wantCode(t, "Heartbeat with a wrong generation", c.heartbeat("g", id, nil, gen+1), kerr.IllegalGeneration)
	wantCode(t, "OffsetCommit with a wrong generation", c.commit("g", id, gen+1, "t"), kerr.IllegalGeneration)
	wantCode(t, "OffsetCommit to an unknown topic", c.commit("g", id, gen, "nope"), kerr.UnknownTopicOrPartition)
	wantCode(t, "OffsetCommit v9+ by a member of a group that does not exist", c.commit("ghost", "m", 3, "t"), kerr.GroupIDNotFound)
	v10 := groupClient{t: t, cl: n.client()} // names the topic by its (here zero) id
	wantCode(t, "OffsetCommit v10 with an unknown topic id", v10.commit("g", id, gen, "t"), kerr.UnknownTopicID)

	// A second member joins: the first learns of the rebalance from its heartbeat.
	joined := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		r := groupClient{t: t, cl: n.client()}.join("g", "", nil, 2000)
		joined <- groupClient{t: t, cl: n.client()}.join("g", r.MemberID, nil, 2000)
	}()
	eventually(t, 10*time.Second, "the rebalance to start", func() bool {
		g, _ := n.group("g")
		return g.State == "PreparingRebalance"
	})
	wantCode(t, "Heartbeat during a rebalance", c.heartbeat("g", id, nil, gen), kerr.RebalanceInProgress)
	wantCode(t, "DeleteGroups of a group with members", deleteGroup(t, c.cl, "g"), kerr.NonEmptyGroup)
	c.join("g", id, nil, 2000) // rejoin so the rebalance completes
	if r := <-joined; r.ErrorCode != 0 {
		t.Fatalf("second member's join: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// A static member restarts: its old incarnation is fenced.
	inst := "static-1"
	oldID, sgen := c.member("s", &inst)
	if r := c.join("s", "", &inst, 2000); r.ErrorCode != 0 || r.MemberID == oldID {
		t.Fatalf("static rejoin: %v, member %s", kerr.ErrorForCode(r.ErrorCode), r.MemberID)
	}
	wantCode(t, "Heartbeat of a replaced static member", c.heartbeat("s", oldID, &inst, sgen), kerr.FencedInstanceID)

	wantCode(t, "DeleteGroups of a group that does not exist", deleteGroup(t, c.cl, "ghost"), kerr.GroupIDNotFound)
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Groups = []string{"ghost"}
	dresp, err := desc.RequestWith(testContext(t), c.cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "DescribeGroups v6 of a group that does not exist", dresp.Groups[0].ErrorCode, kerr.GroupIDNotFound)
	if dresp.Groups[0].State != "Dead" {
		t.Fatalf("a missing group described as %q, want Dead", dresp.Groups[0].State)
	}

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"a", "b", ""}
	fresp, err := fc.RequestWith(testContext(t), c.cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(fresp.Coordinators) != 3 {
		t.Fatalf("batched FindCoordinator: %+v", fresp)
	}
	for _, co := range fresp.Coordinators {
		if co.ErrorCode != 0 || co.NodeID != 1 {
			t.Fatalf("coordinator for %q: %+v", co.Key, co)
		}
	}
}

func deleteGroup(t *testing.T, cl *kgo.Client, group string) int16 {
	t.Helper()
	req := kmsg.NewPtrDeleteGroupsRequest()
	req.Groups = []string{group}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Groups[0].ErrorCode
}
