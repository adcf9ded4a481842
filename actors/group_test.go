package actors

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/actors/groups"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

func startGroupNode(t *testing.T, dir string, opts GroupOptions) *testNode {
	t.Helper()
	return startTestNode(t, dir, "bbolt", 1000, func(o *Options) {
		o.Groups = opts
		o.Log = o.Log.Level(zerolog.WarnLevel)
	})
}

func groupTestOptions() GroupOptions {
	return GroupOptions{MinSessionTimeout: 100 * time.Millisecond, MaxSessionTimeout: time.Minute}
}

func consumerJoin(memberID string, instance *string) *groups.JoinRequest {
	return &groups.JoinRequest{
		MemberID: memberID, InstanceID: instance, ClientID: "c", ClientHost: "/127.0.0.1", ProtocolType: "consumer",
		Protocols:      []groups.Protocol{{Name: "range", Metadata: []byte{0, 0}}},
		SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second, RequireKnownMemberID: true, SupportsSkipAssignment: true,
	}
}

// joinAndSync makes a one-member generation and returns member id and generation.
func joinAndSync(t *testing.T, n *Node, group string, instance *string) (string, int32) {
	t.Helper()
	ctx := context.Background()
	r := n.JoinGroup(ctx, group, consumerJoin("", instance))
	if r.Code == kerr.MemberIDRequired.Code {
		r = n.JoinGroup(ctx, group, consumerJoin(r.MemberID, instance))
	}
	if r.Code != 0 {
		t.Fatalf("join %s: code %d", group, r.Code)
	}
	s := n.SyncGroup(ctx, group, &groups.SyncRequest{MemberID: r.MemberID, InstanceID: instance, Generation: r.Generation,
		Assignments: []groups.Assignment{{MemberID: r.MemberID, Assignment: []byte("a")}}})
	if s.Code != 0 || string(s.Assignment) != "a" {
		t.Fatalf("sync %s: %+v", group, s)
	}
	return r.MemberID, r.Generation
}

func commitOne(t *testing.T, n *Node, group string, ref groups.MemberRef, topic string, p int32, off int64) int16 {
	t.Helper()
	md := "meta"
	codes := n.CommitOffsets(context.Background(), &OffsetCommitRequest{
		Group: group, Member: ref, RetentionMs: -1, MissingGroupCode: kerr.GroupIDNotFound.Code,
		Offsets: []OffsetCommitEntry{{Topic: topic, Partition: p, Offset: off, LeaderEpoch: -1, Metadata: &md, CommitTimestampMs: -1}},
	})
	return codes[0]
}

func TestGroupCoordinatorSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n := startGroupNode(t, dir, groupTestOptions())
	if res := createTopic(t, n.Node, "t", 2); !res.OK() {
		t.Fatal(res.Message)
	}
	inst := "static-1"
	id, gen := joinAndSync(t, n.Node, "g", &inst)
	if code := commitOne(t, n.Node, "g", groups.MemberRef{MemberID: id, InstanceID: &inst, Generation: gen}, "t", 1, 42); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	if code := commitOne(t, n.Node, "g", groups.MemberRef{MemberID: id, InstanceID: &inst, Generation: gen}, "nope", 0, 1); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("commit to an unknown topic: %d", code)
	}
	if code := commitOne(t, n.Node, "g", groups.MemberRef{MemberID: "ghost", Generation: gen}, "t", 0, 1); code != kerr.UnknownMemberID.Code {
		t.Fatalf("commit by an unknown member: %d", code)
	}
	n.stop(t)

	n = startGroupNode(t, dir, groupTestOptions())
	defer n.stop(t)
	offs, code := n.FetchOffsets(context.Background(), "g")
	if code != 0 || len(offs) != 1 || offs[0].Offset != 42 || offs[0].Partition != 1 || offs[0].Metadata != "meta" {
		t.Fatalf("offsets after restart: %+v (code %d)", offs, code)
	}
	d, code := n.DescribeGroup(context.Background(), "g")
	if code != 0 || d.State != groups.Stable || d.Generation != gen || len(d.Members) != 1 || d.Members[0].MemberID != id {
		t.Fatalf("group after restart: %+v (code %d)", d, code)
	}
	// The member heartbeats on as if nothing happened.
	if code := n.Heartbeat(context.Background(), "g", groups.MemberRef{MemberID: id, InstanceID: &inst, Generation: gen}); code != 0 {
		t.Fatalf("heartbeat after restart: %d", code)
	}
	// A restarted static member rejoins in place: same generation, its old assignment.
	r := n.JoinGroup(context.Background(), "g", consumerJoin("", &inst))
	if r.Code != 0 || r.Generation != gen || !r.SkipAssignment {
		t.Fatalf("static rejoin after restart: %+v", r)
	}
	s := n.SyncGroup(context.Background(), "g", &groups.SyncRequest{MemberID: r.MemberID, InstanceID: &inst, Generation: gen})
	if s.Code != 0 || string(s.Assignment) != "a" {
		t.Fatalf("sync after static rejoin: %+v", s)
	}
}

func TestGroupRequestsForMissingGroups(t *testing.T) {
	n := startGroupNode(t, t.TempDir(), groupTestOptions())
	defer n.stop(t)
	ctx := context.Background()
	if code := n.Heartbeat(ctx, "none", groups.MemberRef{MemberID: "m", Generation: 1}); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat: %d", code)
	}
	if code := n.DeleteGroup(ctx, "none"); code != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete: %d", code)
	}
	if _, code := n.DescribeGroup(ctx, "none"); code != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe: %d", code)
	}
	if r := n.JoinGroup(ctx, "", consumerJoin("", nil)); r.Code != kerr.InvalidGroupID.Code {
		t.Fatalf("join with an empty group id: %d", r.Code)
	}
	// A join that fails leaves no group behind.
	bad := consumerJoin("", nil)
	bad.SessionTimeout = time.Millisecond
	if r := n.JoinGroup(ctx, "fleeting", bad); r.Code != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("join with a tiny session timeout: %d", r.Code)
	}
	waitUntil(t, "the failed group to go", func() bool { l, _ := n.ListGroups(); return len(l) == 0 })
}

func TestDeleteGroupAndOffsets(t *testing.T) {
	n := startGroupNode(t, t.TempDir(), groupTestOptions())
	defer n.stop(t)
	ctx := context.Background()
	createTopic(t, n.Node, "t", 3)
	simple := groups.MemberRef{Generation: -1}
	for p := int32(0); p < 3; p++ {
		if code := commitOne(t, n.Node, "standalone", simple, "t", p, int64(10+p)); code != 0 {
			t.Fatalf("standalone commit: %d", code)
		}
	}
	codes, code := n.DeleteOffsets(ctx, "standalone", []TopicPartition{{Topic: "t", Partition: 0}})
	if code != 0 || codes[0] != 0 {
		t.Fatalf("offset delete: %v %d", codes, code)
	}
	if offs, _ := n.FetchOffsets(ctx, "standalone"); len(offs) != 2 {
		t.Fatalf("offsets after deleting one: %+v", offs)
	}
	id, gen := joinAndSync(t, n.Node, "busy", nil)
	if code := n.DeleteGroup(ctx, "busy"); code != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete a group with members: %d", code)
	}
	if res, code := n.LeaveGroup(ctx, "busy", []groups.MemberRef{{MemberID: id, Generation: gen}}); code != 0 || res[0].Code != 0 {
		t.Fatalf("leave: %+v %d", res, code)
	}
	if code := n.DeleteGroup(ctx, "busy"); code != 0 {
		t.Fatalf("delete the emptied group: %d", code)
	}
	if code := n.DeleteGroup(ctx, "standalone"); code != 0 {
		t.Fatalf("delete the standalone group: %d", code)
	}
	if offs, _ := n.FetchOffsets(ctx, "standalone"); len(offs) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", offs)
	}
	waitUntil(t, "deleted groups to leave the listing", func() bool { l, _ := n.ListGroups(); return len(l) == 0 })
	// The id can be used again at once. A join that meets the deleted group's actor still
	// stopping gets COORDINATOR_NOT_AVAILABLE, which clients retry, and the retry creates
	// the group anew.
	waitUntil(t, "a join to re-create the deleted group", func() bool {
		r := n.JoinGroup(ctx, "busy", consumerJoin("", nil))
		if r.Code == kerr.MemberIDRequired.Code {
			r = n.JoinGroup(ctx, "busy", consumerJoin(r.MemberID, nil))
		}
		switch {
		case r.Code == kerr.CoordinatorNotAvailable.Code:
			return false
		case r.Code != 0:
			t.Fatalf("join the re-created group: code %d", r.Code)
		case r.Generation != 1:
			t.Fatalf("a re-created group starts at generation %d", r.Generation)
		}
		return true
	})
}

func TestOffsetsExpireFromEmptyGroups(t *testing.T) {
	opts := groupTestOptions()
	opts.OffsetsRetention, opts.RetentionCheckInterval = 200*time.Millisecond, 50*time.Millisecond
	n := startGroupNode(t, t.TempDir(), opts)
	defer n.stop(t)
	createTopic(t, n.Node, "t", 1)
	id, gen := joinAndSync(t, n.Node, "g", nil)
	if code := commitOne(t, n.Node, "g", groups.MemberRef{MemberID: id, Generation: gen}, "t", 0, 5); code != 0 {
		t.Fatal(code)
	}
	// While a member is there the offset stays (well past the retention).
	time.Sleep(400 * time.Millisecond)
	if offs, _ := n.FetchOffsets(context.Background(), "g"); len(offs) != 1 {
		t.Fatalf("offset of a stable group expired: %+v", offs)
	}
	n.LeaveGroup(context.Background(), "g", []groups.MemberRef{{MemberID: id}})
	waitUntil(t, "the empty group's offsets and the group to expire", func() bool {
		offs, _ := n.FetchOffsets(context.Background(), "g")
		l, _ := n.ListGroups()
		return len(offs) == 0 && len(l) == 0
	})
	if rec, _ := n.store.LoadGroup("g"); rec != nil {
		t.Fatalf("expired group still stored: %+v", rec)
	}
}

func TestConcurrentCommitsShareRaftEntries(t *testing.T) {
	n := startGroupNode(t, t.TempDir(), groupTestOptions())
	defer n.stop(t)
	createTopic(t, n.Node, "t", 8)
	before := n.RaftStatus().CommandsApplied
	var wg sync.WaitGroup
	const commits = 400
	errs := make(chan int16, commits)
	for i := 0; i < commits; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- commitOne(t, n.Node, "bulk", groups.MemberRef{Generation: -1}, "t", int32(i%8), int64(i))
		}(i)
	}
	wg.Wait()
	close(errs)
	for code := range errs {
		if code != 0 {
			t.Fatalf("concurrent commit: %d", code)
		}
	}
	entries := n.RaftStatus().CommandsApplied - before
	if entries >= commits {
		t.Fatalf("%d commits took %d raft entries; concurrent commits must share entries", commits, entries)
	}
	offs, _ := n.FetchOffsets(context.Background(), "bulk")
	if len(offs) != 8 {
		t.Fatalf("offsets: %+v", offs)
	}
}

func TestGroupActorPanicRebuildsFromStore(t *testing.T) {
	n := startGroupNode(t, t.TempDir(), groupTestOptions())
	defer n.stop(t)
	id, gen := joinAndSync(t, n.Node, "g", nil)
	pid := n.groupDir.get("g").pid
	if !n.InjectPanic(pid.Id) {
		t.Fatal("no group actor to panic")
	}
	waitUntil(t, "the group actor to restart", func() bool {
		st := n.reg.get(pid.Id)
		return st != nil && st.restarts.Load() == 1
	})
	if code := n.Heartbeat(context.Background(), "g", groups.MemberRef{MemberID: id, Generation: gen}); code != 0 {
		t.Fatalf("heartbeat after the coordinator actor restarted: %d", code)
	}

	// A JoinGroup parked in a rebalance is answered when the actor dies under it.
	first := n.JoinGroup(context.Background(), "g", consumerJoin("", nil))
	parked := make(chan groups.JoinResult, 1)
	go func() { parked <- n.JoinGroup(context.Background(), "g", consumerJoin(first.MemberID, nil)) }()
	waitUntil(t, "the rebalance to start", func() bool {
		d, _ := n.DescribeGroup(context.Background(), "g")
		return d.State == groups.PreparingRebalance
	})
	n.InjectPanic(pid.Id)
	select {
	case r := <-parked:
		if r.Code != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("parked join after the actor panicked: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a parked JoinGroup was never answered after its actor panicked")
	}
}

// A group actor restarted while a commit of its predecessor's was on its way through Raft
// hears of the commit's outcome with no pending commits of its own: it must take that in
// its stride (it panicked on its empty table, and was restarted again).
func TestCommitOutcomeReachingAFreshGroupActor(t *testing.T) {
	n := startGroupNode(t, t.TempDir(), groupTestOptions())
	defer n.stop(t)
	createTopic(t, n.Node, "t", 1)
	joinAndSync(t, n.Node, "g", nil)
	pid := n.groupDir.get("g").pid
	if n.sendToGroup("g", false, &commitApplied{parts: []fsm.GroupPartition{{Topic: "t", Partition: 0}}}) != 0 {
		t.Fatal("the group's actor is gone")
	}
	if _, code := n.DescribeGroup(context.Background(), "g"); code != 0 { // answered after the message above
		t.Fatalf("describe: %d", code)
	}
	if st := n.reg.get(pid.Id); st == nil || st.restarts.Load() != 0 {
		t.Fatalf("the group actor restarted on a commit outcome it had no record of: %+v", st)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGroupRequestsNeedTheRaftLeader: the metadata Raft leader coordinates every group;
// another node answers NOT_COORDINATOR (the client looks the coordinator up again), and
// with no leader at all the answer is COORDINATOR_NOT_AVAILABLE. ListGroups is the
// exception: another node lists no groups.
func TestGroupRequestsNeedTheRaftLeader(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		lead uint64
		want int16
	}{{2, kerr.NotCoordinator.Code}, {0, kerr.CoordinatorNotAvailable.Code}} {
		n := &Node{opts: Options{NodeID: 1}}
		n.raftState.Store(&raftSnapshot{lead: tc.lead})
		if r := n.JoinGroup(ctx, "g", consumerJoin("", nil)); r.Code != tc.want {
			t.Fatalf("leader %d: join %d", tc.lead, r.Code)
		}
		if r := n.SyncGroup(ctx, "g", &groups.SyncRequest{MemberID: "m"}); r.Code != tc.want {
			t.Fatalf("leader %d: sync %d", tc.lead, r.Code)
		}
		if code := n.Heartbeat(ctx, "g", groups.MemberRef{MemberID: "m"}); code != tc.want {
			t.Fatalf("leader %d: heartbeat %d", tc.lead, code)
		}
		if _, code := n.LeaveGroup(ctx, "g", []groups.MemberRef{{MemberID: "m"}}); code != tc.want {
			t.Fatalf("leader %d: leave %d", tc.lead, code)
		}
		codes := n.CommitOffsets(ctx, &OffsetCommitRequest{Group: "g", Member: groups.MemberRef{Generation: -1}, Offsets: []OffsetCommitEntry{{Topic: "t"}}})
		if codes[0] != tc.want {
			t.Fatalf("leader %d: commit %v", tc.lead, codes)
		}
		if _, code := n.FetchOffsets(ctx, "g"); code != tc.want {
			t.Fatalf("leader %d: fetch %d", tc.lead, code)
		}
		if _, code := n.DescribeGroup(ctx, "g"); code != tc.want {
			t.Fatalf("leader %d: describe %d", tc.lead, code)
		}
		// ListGroups goes to every broker: one that coordinates nothing lists nothing
		// (GroupCoordinatorService.listGroups maps NotCoordinatorException to an empty
		// list); only a missing coordinator is an error.
		wantList := tc.want
		if tc.want == kerr.NotCoordinator.Code {
			wantList = 0
		}
		if l, code := n.ListGroups(); code != wantList || len(l) != 0 {
			t.Fatalf("leader %d: list %v %d", tc.lead, l, code)
		}
		if code := n.DeleteGroup(ctx, "g"); code != tc.want {
			t.Fatalf("leader %d: delete %d", tc.lead, code)
		}
		if _, code := n.DeleteOffsets(ctx, "g", nil); code != tc.want {
			t.Fatalf("leader %d: offset delete %d", tc.lead, code)
		}
	}
}

// TestExpiryKeepsCommitsNotYetApplied: an expiry check that runs while a commit is on
// its way through Raft must not count the group as holding only expired offsets. Kafka
// skips partitions with pending commits (and keeps a group that has any); without that,
// the group was deleted behind the commit, which the client had been told succeeded.
func TestExpiryKeepsCommitsNotYetApplied(t *testing.T) {
	opts := groupTestOptions()
	// Expiry runs only when the test asks for it.
	opts.OffsetsRetention, opts.RetentionCheckInterval = 100*time.Millisecond, time.Hour
	n := startGroupNode(t, t.TempDir(), opts)
	defer n.stop(t)
	createTopic(t, n.Node, "t", 2)
	simple := groups.MemberRef{Generation: -1}
	if code := commitOne(t, n.Node, "g", simple, "t", 0, 5); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	time.Sleep(2 * opts.OffsetsRetention) // partition 0's offset is past the retention now

	// A commit of partition 1 and an expiry check reach the group's actor back to back:
	// the check runs before Raft applies the commit.
	reply := make(chan commitStarted, 1)
	offsets := []fsm.OffsetCommit{{Topic: "t", Partition: 1, Offset: 7, LeaderEpoch: -1, CommitTimestampMs: time.Now().UnixMilli()}}
	if n.sendToGroup("g", false, &commitOffsetsMsg{ref: simple, offsets: offsets, reply: reply}) != 0 || n.sendToGroup("g", false, &expireOffsets{}) != 0 {
		t.Fatal("the group's actor is gone")
	}
	started := <-reply
	if started.code != 0 {
		t.Fatalf("commit refused: %d", started.code)
	}
	if code := n.awaitApplied(context.Background(), started.applied); code != 0 {
		t.Fatalf("commit failed: %d", code)
	}
	// The commit was acknowledged: its offset must be there, though partition 0's is gone.
	waitUntil(t, "the expired offset to be deleted", func() bool {
		offs, _ := n.FetchOffsets(context.Background(), "g")
		for _, o := range offs {
			if o.Partition == 0 {
				return false
			}
		}
		return true
	})
	offs, _ := n.FetchOffsets(context.Background(), "g")
	if len(offs) != 1 || offs[0].Partition != 1 || offs[0].Offset != 7 {
		t.Fatalf("offsets after an acknowledged commit raced an expiry check: %+v", offs)
	}
}

// TestOffsetMetadataLimitCountsCharacters: Kafka bounds a commit's metadata by
// offset.metadata.max.bytes counted as the Java string's length (UTF-16 units), not
// as UTF-8 bytes, so metadata of 3000 two-byte characters fits the default 4096.
func TestOffsetMetadataLimitCountsCharacters(t *testing.T) {
	n := startGroupNode(t, t.TempDir(), groupTestOptions())
	defer n.stop(t)
	createTopic(t, n.Node, "t", 1)
	commit := func(md string) int16 {
		return n.CommitOffsets(context.Background(), &OffsetCommitRequest{
			Group: "g", Member: groups.MemberRef{Generation: -1}, RetentionMs: -1,
			Offsets: []OffsetCommitEntry{{Topic: "t", Offset: 1, LeaderEpoch: -1, Metadata: &md, CommitTimestampMs: -1}},
		})[0]
	}
	for _, tc := range []struct {
		what string
		md   string
		want int16
	}{
		{"4096 ASCII characters", strings.Repeat("a", 4096), 0},
		{"4097 ASCII characters", strings.Repeat("a", 4097), kerr.OffsetMetadataTooLarge.Code},
		{"3000 two-byte characters (6000 bytes)", strings.Repeat("é", 3000), 0},
		{"4096 three-byte characters", strings.Repeat("€", 4096), 0},
		{"2049 characters outside the BMP (two UTF-16 units each)", strings.Repeat("😀", 2049), kerr.OffsetMetadataTooLarge.Code},
	} {
		if got := commit(tc.md); got != tc.want {
			t.Errorf("metadata of %s: code %d, want %d", tc.what, got, tc.want)
		}
	}
}

// TestStoredGroupsAreCoordinatedAfterRestart: once a restarted node leads the metadata
// Raft group it coordinates every stored group at once, so ListGroups shows them and
// their timers (session expiry, offset expiry) run, without waiting for a request that
// names the group. The manager's leadership watch used to take its first reading after
// the manager's own; leadership gained between the two was never signalled.
func TestStoredGroupsAreCoordinatedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	n := startGroupNode(t, dir, groupTestOptions())
	createTopic(t, n.Node, "t", 1)
	if code := commitOne(t, n.Node, "offsets-only", groups.MemberRef{Generation: -1}, "t", 0, 3); code != 0 {
		t.Fatalf("standalone commit: %d", code)
	}
	joinAndSync(t, n.Node, "with-member", nil)
	n.stop(t)

	for restart := 0; restart < 5; restart++ {
		n = startGroupNode(t, dir, groupTestOptions())
		waitUntil(t, "the stored groups to be listed after a restart", func() bool {
			l, code := n.ListGroups()
			return code == 0 && len(l) == 2
		})
		n.stop(t)
	}
}

// TestGroupUsedAgainWhileItsActorStops deletes a group and commits to it again at once,
// over and over. The commit can meet the deleted group's actor still stopping (its name
// still taken): it must then get COORDINATOR_NOT_AVAILABLE, which clients retry, and
// never an answer of success for offsets it did not store (a standalone commit that
// could not reach a group actor was answered 0 and stored nothing).
func TestGroupUsedAgainWhileItsActorStops(t *testing.T) {
	n := startGroupNode(t, t.TempDir(), groupTestOptions())
	defer n.stop(t)
	ctx := context.Background()
	createTopic(t, n.Node, "t", 1)
	simple := groups.MemberRef{Generation: -1}
	retried := 0
	// untilAvailable retries a request while it gets COORDINATOR_NOT_AVAILABLE, as
	// clients do, and returns its first other answer.
	untilAvailable := func(request func() int16) int16 {
		for {
			if code := request(); code != kerr.CoordinatorNotAvailable.Code {
				return code
			}
			retried++
		}
	}
	for i := range 200 {
		commit := func() int16 { return commitOne(t, n.Node, "again", simple, "t", 0, int64(i)) }
		if code := untilAvailable(commit); code != 0 {
			t.Fatalf("round %d: commit to the group deleted just before: code %d", i, code)
		}
		offs, code := n.FetchOffsets(ctx, "again")
		if code != 0 || len(offs) != 1 || offs[0].Offset != int64(i) {
			t.Fatalf("round %d: the commit was answered 0; the group's offsets: %+v (code %d)", i, offs, code)
		}
		if code := untilAvailable(func() int16 { return n.DeleteGroup(ctx, "again") }); code != 0 {
			t.Fatalf("round %d: delete: code %d", i, code)
		}
	}
	t.Logf("%d requests met a stopping actor and were retried", retried)
}
