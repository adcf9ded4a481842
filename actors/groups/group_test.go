package groups

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestFirstMemberGetsIDThenLeadsGenerationOne(t *testing.T) {
	h := newHarness(t, nil)
	id := h.joinNew("a")
	r := h.joined("a")
	if r.Code != 0 || r.Generation != 1 || r.LeaderID != id || r.MemberID != id || r.Protocol != "range" || r.ProtocolType != "consumer" {
		t.Fatalf("join: %+v", r)
	}
	if len(r.Members) != 1 || r.Members[0].MemberID != id || !bytes.Equal(r.Members[0].Metadata, consumerMeta("t")) {
		t.Fatalf("leader's member list: %+v", r.Members)
	}
	if h.g.State() != CompletingRebalance {
		t.Fatalf("state %s after the join phase", h.g.State())
	}
	h.sync("s", SyncRequest{MemberID: id, Generation: 1, Assignments: []Assignment{{MemberID: id, Assignment: []byte("x")}}})
	if s := h.synced("s"); s.Code != 0 || string(s.Assignment) != "x" || s.Protocol != "range" {
		t.Fatalf("sync: %+v", s)
	}
	if h.g.State() != Stable || h.stores != 1 {
		t.Fatalf("state %s, %d stores; want Stable and the generation stored", h.g.State(), h.stores)
	}
	if code := h.heartbeat(id, 1); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
}

func TestJoinGroupVersion3AddsMemberAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	req := joinReq("")
	req.RequireKnownMemberID = false
	h.join("a", req)
	if r := h.joined("a"); r.Code != 0 || r.MemberID == "" || r.Generation != 1 {
		t.Fatalf("v3 join: %+v", r)
	}
}

func TestJoinRefusals(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(1)
	cases := []struct {
		name   string
		mutate func(r *JoinRequest)
		want   int16
	}{
		{"session timeout below min", func(r *JoinRequest) { r.SessionTimeout = 500 * time.Millisecond }, kerr.InvalidSessionTimeout.Code},
		{"session timeout above max", func(r *JoinRequest) { r.SessionTimeout = 2 * time.Minute }, kerr.InvalidSessionTimeout.Code},
		{"other protocol type", func(r *JoinRequest) { r.ProtocolType = "connect" }, kerr.InconsistentGroupProtocol.Code},
		{"no shared protocol", func(r *JoinRequest) { r.Protocols = []Protocol{{Name: "sticky"}} }, kerr.InconsistentGroupProtocol.Code},
		{"unknown member id", func(r *JoinRequest) { r.MemberID = "nobody" }, kerr.UnknownMemberID.Code},
		{"unknown instance id", func(r *JoinRequest) { r.MemberID = ids[0]; r.InstanceID = ptr("ghost") }, kerr.UnknownMemberID.Code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := joinReq("")
			tc.mutate(&req)
			h.join(tc.name, req)
			if r := h.joined(tc.name); r.Code != tc.want || r.Generation != -1 {
				t.Fatalf("code %d generation %d, want %d and -1", r.Code, r.Generation, tc.want)
			}
			if h.g.State() != Stable || h.g.Generation() != gen {
				t.Fatalf("a refused join changed the group: %s gen %d", h.g.State(), h.g.Generation())
			}
		})
	}
	empty := newHarness(t, nil)
	req := joinReq("")
	req.ProtocolType = ""
	empty.join("x", req)
	if r := empty.joined("x"); r.Code != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("join without protocol type: %d", r.Code)
	}
	if !empty.g.Disposable() {
		t.Fatal("a group whose only join failed should be disposable")
	}
}

func TestSecondMemberTriggersRebalance(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	if gen != 2 || len(ids) != 2 || h.g.leader != ids[0] {
		t.Fatalf("generation %d members %v leader %s", gen, ids, h.g.leader)
	}
	lead, follow := h.joined("rj0"), h.joined("j1")
	if lead.LeaderID != ids[0] || len(lead.Members) != 2 || len(follow.Members) != 0 || follow.LeaderID != ids[0] {
		t.Fatalf("leader answer %+v, follower answer %+v", lead, follow)
	}
	// The follower synced first and waited for the leader's assignment.
	if s := h.synced("rs1"); s.Code != 0 || string(s.Assignment) != "assign-"+ids[1] {
		t.Fatalf("follower sync %+v", s)
	}
	d := h.g.Describe()
	if d.State != Stable || len(d.Members) != 2 || string(d.Members[1].Assignment) != "assign-"+ids[1] {
		t.Fatalf("describe %+v", d)
	}
}

func TestSessionTimeoutRemovesSilentMember(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	// ids[0] keeps heartbeating; ids[1] goes silent.
	for i := 0; i < 12; i++ {
		h.advance(time.Second)
		if code := h.heartbeat(ids[0], gen); code != 0 && h.g.State() == Stable {
			t.Fatalf("heartbeat of a live member in a stable group: %d", code)
		}
	}
	if h.g.State() != PreparingRebalance || h.g.members[ids[1]] != nil {
		t.Fatalf("after the session timeout: state %s members %v", h.g.State(), h.g.Describe().Members)
	}
	if code := h.heartbeat(ids[1], gen); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of the removed member: %d", code)
	}
	if code := h.heartbeat(ids[0], gen); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat of the survivor: %d", code)
	}
	h.join("again", joinReq(ids[0]))
	if r := h.joined("again"); r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	// A follower rejoining with unchanged metadata just gets the current generation.
	h.join("b-rejoin", joinReq(ids[1]))
	if r := h.joined("b-rejoin"); r.Code != 0 || r.Generation != gen || h.g.State() != Stable {
		t.Fatalf("unchanged follower rejoin: %+v (state %s)", r, h.g.State())
	}
	// The leader rejoins, which forces a new generation; the follower keeps heartbeating
	// (it is alive) but never rejoins.
	h.join("a-rejoin", joinReq(ids[0]))
	for i := 0; i < 29; i++ {
		h.advance(time.Second)
		if code := h.heartbeat(ids[1], gen); code != kerr.RebalanceInProgress.Code {
			t.Fatalf("heartbeat during the rebalance: %d", code)
		}
	}
	if !h.waiting("a-rejoin") {
		t.Fatal("join phase ended before the rebalance timeout")
	}
	h.advance(time.Second)
	r := h.joined("a-rejoin")
	if r.Generation != gen+1 || len(r.Members) != 1 || h.g.members[ids[1]] != nil {
		t.Fatalf("after the rebalance timeout: %+v, members %v", r, h.g.Describe().Members)
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	res, out := h.g.Leave(h.now, []MemberRef{{MemberID: ids[1]}, {MemberID: "ghost"}})
	h.collect(out)
	if res[0].Code != 0 || res[1].Code != kerr.UnknownMemberID.Code {
		t.Fatalf("leave results %+v", res)
	}
	if h.g.State() != PreparingRebalance {
		t.Fatalf("state after a member left: %s", h.g.State())
	}
	res, out = h.g.Leave(h.now, []MemberRef{{MemberID: ids[0]}})
	h.collect(out)
	if res[0].Code != 0 || h.g.State() != Empty || h.g.Generation() != gen+1 || h.stores != 3 {
		t.Fatalf("last member left: %+v state %s gen %d stores %d", res, h.g.State(), h.g.Generation(), h.stores)
	}
	if rec := h.g.Record(); len(rec.Members) != 0 || rec.Generation != gen+1 || rec.StateSinceMs != h.now.UnixMilli() {
		t.Fatalf("record of the empty group: %+v", rec)
	}
}

func TestLeaveDuringJoinPhaseCompletesIt(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	h.join("a-rejoin", joinReq(ids[0])) // leader rejoin: rebalance, waits for ids[1]
	_, out := h.g.Leave(h.now, []MemberRef{{MemberID: ids[1]}})
	h.collect(out)
	if r := h.joined("a-rejoin"); r.Code != 0 || r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("join after the other member left: %+v", r)
	}
}

func TestGenerationChecks(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(1)
	if code := h.heartbeat(ids[0], gen-1); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with an old generation: %d", code)
	}
	h.sync("old", SyncRequest{MemberID: ids[0], Generation: gen + 5})
	if s := h.synced("old"); s.Code != kerr.IllegalGeneration.Code {
		t.Fatalf("sync with a wrong generation: %d", s.Code)
	}
	h.sync("proto", SyncRequest{MemberID: ids[0], Generation: gen, Protocol: ptr("roundrobin")})
	if s := h.synced("proto"); s.Code != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("sync naming another protocol: %d", s.Code)
	}
	h.sync("late", SyncRequest{MemberID: ids[0], Generation: gen})
	if s := h.synced("late"); s.Code != 0 || string(s.Assignment) != "assign-"+ids[0] {
		t.Fatalf("sync in a stable group returns the assignment: %+v", s)
	}
	if code := h.g.CheckCommit(h.now, MemberRef{MemberID: ids[0], Generation: gen + 1}); code != kerr.IllegalGeneration.Code {
		t.Fatalf("commit with a wrong generation: %d", code)
	}
}

func TestCheckCommit(t *testing.T) {
	h := newHarness(t, nil)
	simple := MemberRef{Generation: -1}
	if code := h.g.CheckCommit(h.now, simple); code != 0 {
		t.Fatalf("standalone commit to an empty group: %d", code)
	}
	if code := h.g.CheckCommit(h.now, MemberRef{MemberID: "x", Generation: 3}); code != kerr.UnknownMemberID.Code {
		t.Fatalf("member commit to an empty group: %d", code)
	}
	ids, gen := h.stableGroup(1)
	if code := h.g.CheckCommit(h.now, simple); code != kerr.UnknownMemberID.Code {
		t.Fatalf("standalone commit to a group with members: %d", code)
	}
	if code := h.g.CheckCommit(h.now, MemberRef{MemberID: ids[0], Generation: gen}); code != 0 {
		t.Fatalf("member commit: %d", code)
	}
	// Preparing: commits of the current generation are still accepted (eager consumers
	// commit before they rejoin); Completing: REBALANCE_IN_PROGRESS.
	h.joinNew("b")
	if code := h.g.CheckCommit(h.now, MemberRef{MemberID: ids[0], Generation: gen}); code != 0 {
		t.Fatalf("commit during PreparingRebalance: %d", code)
	}
	h.join("a-rejoin", joinReq(ids[0]))
	if h.g.State() != CompletingRebalance {
		t.Fatalf("state %s", h.g.State())
	}
	if code := h.g.CheckCommit(h.now, MemberRef{MemberID: ids[0], Generation: gen + 1}); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit during CompletingRebalance: %d", code)
	}
}

func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	for _, skip := range []bool{false, true} {
		h := newHarness(t, nil)
		req := staticReq("", "inst-a")
		h.join("a", req) // static members skip MEMBER_ID_REQUIRED
		first := h.joined("a")
		if first.Code != 0 || first.Generation != 1 {
			t.Fatalf("static join: %+v", first)
		}
		h.sync("as", SyncRequest{MemberID: first.MemberID, InstanceID: ptr("inst-a"), Generation: 1,
			Assignments: []Assignment{{MemberID: first.MemberID, Assignment: []byte("mine")}}})
		stores := h.stores

		// The process restarts: same instance id, no member id.
		req.SupportsSkipAssignment = skip
		h.join("a2", req)
		r := h.joined("a2")
		if r.Code != 0 || r.Generation != 1 || r.MemberID == first.MemberID || h.g.State() != Stable {
			t.Fatalf("static rejoin (skip %v): %+v state %s", skip, r, h.g.State())
		}
		if skip && (r.LeaderID != r.MemberID || !r.SkipAssignment || len(r.Members) != 1) {
			t.Fatalf("v9 leader rejoin must skip the assignment: %+v", r)
		}
		if !skip && (r.LeaderID != first.MemberID || len(r.Members) != 0) {
			t.Fatalf("pre-v9 leader rejoin must look like a follower: %+v", r)
		}
		if h.stores != stores+1 {
			t.Fatal("the replaced member id was not stored")
		}
		h.sync("as2", SyncRequest{MemberID: r.MemberID, InstanceID: ptr("inst-a"), Generation: 1})
		if s := h.synced("as2"); s.Code != 0 || string(s.Assignment) != "mine" {
			t.Fatalf("the rejoined static member lost its assignment: %+v", s)
		}
		// The old incarnation is fenced.
		if code := h.g.Heartbeat(h.now, MemberRef{MemberID: first.MemberID, InstanceID: ptr("inst-a"), Generation: 1}); code != kerr.FencedInstanceID.Code {
			t.Fatalf("old static member heartbeat: %d", code)
		}
		if code := h.g.CheckCommit(h.now, MemberRef{MemberID: first.MemberID, InstanceID: ptr("inst-a"), Generation: 1}); code != kerr.FencedInstanceID.Code {
			t.Fatalf("old static member commit: %d", code)
		}
	}
}

func TestStaticRejoinChangingProtocolRebalances(t *testing.T) {
	h := newHarness(t, nil)
	req := staticReq("", "inst-a")
	h.join("a", req)
	first := h.joined("a")
	h.sync("as", SyncRequest{MemberID: first.MemberID, Generation: 1})
	req.Protocols = []Protocol{{Name: "roundrobin", Metadata: consumerMeta("t")}}
	h.join("a2", req)
	if r := h.joined("a2"); r.Generation != 2 || r.Protocol != "roundrobin" {
		t.Fatalf("rejoin with another protocol: %+v", r)
	}
}

func TestStaticMemberFencesParkedRequests(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(1)
	h.join("s", staticReq("", "inst-b")) // rebalance: waits for ids[0]
	sid := h.g.static["inst-b"]
	h.join("s-again", staticReq("", "inst-b")) // the same instance restarts meanwhile
	if r := h.joined("s"); r.Code != kerr.FencedInstanceID.Code {
		t.Fatalf("the first incarnation's parked join: %+v", r)
	}
	if h.g.members[sid] != nil || h.g.static["inst-b"] == sid {
		t.Fatal("the fenced member id is still in the group")
	}
	h.join("a", joinReq(ids[0]))
	if r := h.joined("s-again"); r.Code != 0 || r.Generation != gen+1 {
		t.Fatalf("the new incarnation's join: %+v", r)
	}
}

func TestLeaveByInstanceID(t *testing.T) {
	h := newHarness(t, nil)
	h.join("a", staticReq("", "inst-a"))
	id := h.joined("a").MemberID
	res, out := h.g.Leave(h.now, []MemberRef{{InstanceID: ptr("inst-a")}, {InstanceID: ptr("ghost")}, {MemberID: "wrong", InstanceID: ptr("inst-a")}})
	h.collect(out)
	if res[0].Code != 0 || res[1].Code != kerr.UnknownMemberID.Code || res[2].Code != kerr.UnknownMemberID.Code {
		t.Fatalf("leave by instance id: %+v", res)
	}
	if h.g.members[id] != nil || h.g.State() != Empty {
		t.Fatalf("static member still there, state %s", h.g.State())
	}

	h2 := newHarness(t, nil)
	h2.join("a", staticReq("", "inst-a"))
	res, _ = h2.g.Leave(h2.now, []MemberRef{{MemberID: "not-the-owner", InstanceID: ptr("inst-a")}})
	if res[0].Code != kerr.FencedInstanceID.Code {
		t.Fatalf("leave with another member's instance id: %+v", res)
	}
}

func TestInitialRebalanceDelayWaitsForMoreMembers(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	a := h.joinNew("a")
	h.runUntil(t0.Add(2 * time.Second))
	b := h.joinNew("b") // arrives within the delay: the delay is extended
	h.runUntil(t0.Add(4 * time.Second))
	if !h.waiting("a") || !h.waiting("b") {
		t.Fatal("the join phase ended although a member arrived during the initial delay")
	}
	for h.waiting("a") {
		at, ok := h.g.NextDeadline()
		if !ok {
			t.Fatal("no deadline while members wait")
		}
		h.now = at
		h.collect(h.g.Tick(at))
	}
	ra, rb := h.joined("a"), h.joined("b")
	if ra.Generation != 1 || rb.Generation != 1 || ra.LeaderID != a || len(ra.Members) != 2 || rb.MemberID != b {
		t.Fatalf("after the delay: %+v / %+v", ra, rb)
	}
	// Delay 3s from the first join, extended once by 3s for the member that came at 2s.
	if got := h.now.Sub(t0); got != 6*time.Second {
		t.Fatalf("initial join took %v, want 6s", got)
	}
}

func TestPendingMembersHoldTheJoinPhaseUntilTheyExpire(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(1)
	h.join("probe", joinReq("")) // gets MEMBER_ID_REQUIRED and never comes back
	if h.joined("probe").Code != kerr.MemberIDRequired.Code || h.g.State() != Stable {
		t.Fatal("a pending member must not start a rebalance")
	}
	h.join("a", joinReq(ids[0])) // leader rejoin
	if !h.waiting("a") {
		t.Fatal("join completed while a member with an id was still expected")
	}
	h.runUntil(h.now.Add(11 * time.Second)) // the pending member's session timeout
	if r := h.joined("a"); r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("after the pending member expired: %+v", r)
	}
}

func TestMembersThatDoNotSyncAreRemoved(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	h.join("a", joinReq(ids[0]))
	h.join("b", joinReq(ids[1]))
	if h.g.State() != CompletingRebalance {
		t.Fatalf("state %s", h.g.State())
	}
	h.sync("as", SyncRequest{MemberID: ids[0], Generation: gen + 1, Assignments: []Assignment{{MemberID: ids[0]}, {MemberID: ids[1]}}})
	// ids[1] never syncs, but heartbeats (a broken client); the pending-sync deadline
	// still removes it.
	for i := 0; i < 31; i++ {
		h.advance(time.Second)
		h.heartbeat(ids[1], gen+1)
		h.heartbeat(ids[0], gen+1)
	}
	if h.g.members[ids[1]] != nil || h.g.State() != PreparingRebalance {
		t.Fatalf("member without SyncGroup still there (state %s)", h.g.State())
	}
}

func TestRebalanceFailsParkedSyncs(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	h.join("a", joinReq(ids[0]))
	h.join("b", joinReq(ids[1]))
	h.sync("bs", SyncRequest{MemberID: ids[1], Generation: gen + 1}) // parks: the leader has not synced
	h.joinNew("c")                                                   // a third member arrives first
	if s := h.synced("bs"); s.Code != kerr.RebalanceInProgress.Code {
		t.Fatalf("parked sync during a new rebalance: %+v", s)
	}
}

func TestRestoreResumesTheGeneration(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	h.join("st", staticReq("", "inst-s")) // a static third member
	h.join("a", joinReq(ids[0]))
	h.join("b", joinReq(ids[1]))
	sid := h.joined("st").MemberID
	gen++
	var as []Assignment
	for _, id := range append(slices.Clone(ids), sid) {
		as = append(as, Assignment{MemberID: id, Assignment: []byte("p-" + id)})
	}
	h.sync("as", SyncRequest{MemberID: h.g.leader, Generation: gen, Assignments: as})
	rec := h.g.Record()

	later := h.now.Add(time.Hour)
	r := &harness{t: t, now: later, replies: map[string][]Reply{}, ids: 100}
	r.g = Restore(&rec, testConfig(r), later)
	if r.g.State() != Stable || r.g.Generation() != gen || r.g.leader != h.g.leader || len(r.g.members) != 3 {
		t.Fatalf("restored %+v", r.g.Describe())
	}
	if code := r.heartbeat(ids[1], gen); code != 0 {
		t.Fatalf("heartbeat after restore: %d", code)
	}
	r.join("st2", staticReq("", "inst-s"))
	if res := r.joined("st2"); res.Code != 0 || res.Generation != gen || r.g.State() != Stable {
		t.Fatalf("static rejoin after restore: %+v (state %s)", res, r.g.State())
	}
	st2 := r.joined("st2").MemberID
	r.sync("ss", SyncRequest{MemberID: st2, InstanceID: ptr("inst-s"), Generation: gen})
	if s := r.synced("ss"); string(s.Assignment) != "p-"+sid {
		t.Fatalf("restored assignment %q", s.Assignment)
	}
	// Members that never come back expire after their session timeout.
	r.runUntil(later.Add(5 * time.Second))
	r.g.Heartbeat(r.now, MemberRef{MemberID: st2, InstanceID: ptr("inst-s"), Generation: gen})
	r.runUntil(later.Add(11 * time.Second))
	if r.g.members[ids[0]] != nil || r.g.members[st2] == nil {
		t.Fatalf("members after 11s: %+v", r.g.Describe().Members)
	}
	if r.g.State() != PreparingRebalance {
		t.Fatalf("state %s after the restored members' sessions expired", r.g.State())
	}
}

func TestDeleteAndOffsetDeleteChecks(t *testing.T) {
	h := newHarness(t, nil)
	if h.g.CheckDelete() != 0 || h.g.CheckOffsetDelete() != 0 {
		t.Fatal("an empty group can be deleted")
	}
	h.stableGroup(1)
	if h.g.CheckDelete() != kerr.NonEmptyGroup.Code {
		t.Fatal("a group with members was deletable")
	}
	if h.g.CheckOffsetDelete() != 0 || !h.g.IsSubscribedTo("t") || h.g.IsSubscribedTo("other") {
		t.Fatalf("consumer group offset delete: code %d subscribed %v", h.g.CheckOffsetDelete(), h.g.subscribed)
	}
	h.g.MarkDead(h.now)
	if h.g.CheckDelete() != kerr.GroupIDNotFound.Code || h.g.CheckOffsetDelete() != kerr.GroupIDNotFound.Code {
		t.Fatal("a dead group is not found")
	}
	h.join("late", joinReq(""))
	if h.joined("late").Code != kerr.CoordinatorNotAvailable.Code {
		t.Fatal("a join to a dead group must send the client to find the coordinator again")
	}

	other := newHarness(t, nil)
	req := joinReq("")
	req.ProtocolType, req.RequireKnownMemberID = "connect", false
	other.join("c", req)
	if other.g.CheckOffsetDelete() != kerr.NonEmptyGroup.Code {
		t.Fatal("offsets of a non-consumer group with members were deletable")
	}
}

func TestParseState(t *testing.T) {
	for _, s := range []State{Empty, PreparingRebalance, CompletingRebalance, Stable, Dead} {
		if got, ok := ParseState(s.String()); !ok || got != s {
			t.Fatalf("%s does not parse back", s)
		}
	}
	if s, ok := ParseState("stable"); !ok || s != Stable {
		t.Fatal("state filters are case-insensitive")
	}
	if _, ok := ParseState("Reconciling"); ok {
		t.Fatal("a consumer-protocol state parsed as a classic one")
	}
}

func ptr(s string) *string { return &s }

func TestAbandonParkedAnswersEveryWaiter(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup(2)
	h.join("a", joinReq(ids[0])) // parks: waits for ids[1]
	h.join("b", joinReq(ids[1])) // completes the join phase
	h.sync("bs", SyncRequest{MemberID: ids[1], Generation: gen + 1})
	h.joinNew("c") // parks in a new join phase... and fails bs with REBALANCE_IN_PROGRESS
	h.join("a2", joinReq(ids[0]))
	h.collect(h.g.AbandonParked(kerr.CoordinatorNotAvailable.Code))
	for _, w := range []string{"c", "a2"} {
		if r := h.joined(w); r.Code != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("%s: %+v", w, r)
		}
	}
	if _, ok := h.g.NextDeadline(); !ok {
		t.Fatal("abandoning requests must not stop the group's timers")
	}
}
