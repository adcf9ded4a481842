package groups

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// harness drives one Group with a fake clock and collects what it answers, by waiter.
type harness struct {
	t       *testing.T
	g       *Group
	now     time.Time
	ids     int
	replies map[string][]Reply // by waiter name; more than one answer is a bug
	stores  int
	events  []string
}

func testConfig(h *harness) Config {
	return Config{
		MinSessionTimeout: time.Second, MaxSessionTimeout: time.Minute,
		NewMemberID: func(prefix string) string { h.ids++; return fmt.Sprintf("%s-%d", prefix, h.ids) },
	}
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	h := &harness{t: t, now: t0, replies: map[string][]Reply{}}
	cfg := testConfig(h)
	if tweak != nil {
		tweak(&cfg)
	}
	h.g = New("g", cfg, t0)
	return h
}

func (h *harness) collect(out Output) Output {
	h.t.Helper()
	for _, r := range out.Replies {
		name := r.To.(string)
		h.replies[name] = append(h.replies[name], r)
		if len(h.replies[name]) > 1 {
			h.t.Fatalf("waiter %s answered twice: %+v", name, h.replies[name])
		}
	}
	if out.Store {
		h.stores++
	}
	h.events = append(h.events, out.Events...)
	h.checkInvariants()
	return out
}

func (h *harness) checkInvariants() {
	h.t.Helper()
	g := h.g
	if len(g.members) > 0 && g.members[g.leader] == nil {
		h.t.Fatalf("leader %q is not a member of %v", g.leader, g.Describe().Members)
	}
	for inst, id := range g.static {
		if m := g.members[id]; m == nil || m.instanceID == nil || *m.instanceID != inst {
			h.t.Fatalf("static mapping %s -> %s does not match a member", inst, id)
		}
	}
	if (g.state == Stable || g.state == CompletingRebalance) && len(g.members) == 0 {
		h.t.Fatalf("state %s without members", g.state)
	}
}

// answer returns the one answer a waiter got, failing if there is none.
func (h *harness) answer(w string) Reply {
	h.t.Helper()
	rs := h.replies[w]
	if len(rs) != 1 {
		h.t.Fatalf("waiter %s: %d answers, want 1 (events %v)", w, len(rs), h.events)
	}
	return rs[0]
}

func (h *harness) waiting(w string) bool { return len(h.replies[w]) == 0 }

func (h *harness) join(w string, req JoinRequest) {
	h.t.Helper()
	h.collect(h.g.Join(h.now, &req, w))
}

func (h *harness) joined(w string) *JoinResult {
	h.t.Helper()
	r := h.answer(w).Join
	if r == nil {
		h.t.Fatalf("waiter %s got a sync answer", w)
	}
	return r
}

func (h *harness) sync(w string, req SyncRequest) {
	h.t.Helper()
	h.collect(h.g.Sync(h.now, &req, w))
}

func (h *harness) synced(w string) *SyncResult {
	h.t.Helper()
	r := h.answer(w).Sync
	if r == nil {
		h.t.Fatalf("waiter %s got a join answer", w)
	}
	return r
}

func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.now = h.now.Add(d)
	h.collect(h.g.Tick(h.now))
}

// runUntil advances in steps of the next deadline up to end, like the actor's timer.
func (h *harness) runUntil(end time.Time) {
	h.t.Helper()
	for {
		at, ok := h.g.NextDeadline()
		if !ok || at.After(end) {
			h.now = end
			return
		}
		if at.After(h.now) {
			h.now = at
		}
		h.collect(h.g.Tick(h.now))
	}
}

func (h *harness) heartbeat(id string, gen int32) int16 {
	return h.g.Heartbeat(h.now, MemberRef{MemberID: id, Generation: gen})
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

// joinReq is a consumer's JoinGroup with range and roundrobin (in that preference).
func joinReq(id string) JoinRequest {
	return JoinRequest{
		MemberID: id, ClientID: "client", ClientHost: "/127.0.0.1", ProtocolType: "consumer",
		Protocols:      []Protocol{{Name: "range", Metadata: consumerMeta("t")}, {Name: "roundrobin", Metadata: consumerMeta("t")}},
		SessionTimeout: 10 * time.Second, RebalanceTimeout: 30 * time.Second, RequireKnownMemberID: true,
	}
}

func staticReq(id, instance string) JoinRequest {
	r := joinReq(id)
	r.InstanceID = &instance
	return r
}

// joinNew runs the KIP-394 two-step join and returns the member id it got.
func (h *harness) joinNew(w string) string {
	h.t.Helper()
	h.join(w+"-probe", joinReq(""))
	r := h.joined(w + "-probe")
	if r.Code != kerr.MemberIDRequired.Code || r.MemberID == "" {
		h.t.Fatalf("first join: code %d member %q, want MEMBER_ID_REQUIRED with an id", r.Code, r.MemberID)
	}
	h.join(w, joinReq(r.MemberID))
	return r.MemberID
}

// stableGroup builds a stable group of n members (leader first) at the returned
// generation, with "assign-<id>" as each member's assignment.
func (h *harness) stableGroup(n int) ([]string, int32) {
	h.t.Helper()
	var ids []string
	ids = append(ids, h.joinNew("j0"))
	h.sync("s0", SyncRequest{MemberID: ids[0], Generation: h.joined("j0").Generation,
		Assignments: []Assignment{{MemberID: ids[0], Assignment: []byte("assign-" + ids[0])}}})
	for i := 1; i < n; i++ {
		ids = append(ids, h.joinNew(fmt.Sprintf("j%d", i)))
	}
	if n == 1 {
		return ids, h.g.generation
	}
	// The first member learns of the rebalance from its heartbeat and rejoins; the new
	// members are still waiting in their JoinGroup.
	if code := h.heartbeat(ids[0], h.g.generation); code != kerr.RebalanceInProgress.Code {
		h.t.Fatalf("heartbeat during the rebalance: code %d, want REBALANCE_IN_PROGRESS", code)
	}
	h.join("rj0", joinReq(ids[0]))
	gen := h.g.generation
	var as []Assignment
	for _, id := range ids {
		as = append(as, Assignment{MemberID: id, Assignment: []byte("assign-" + id)})
	}
	for i := len(ids) - 1; i >= 0; i-- {
		req := SyncRequest{MemberID: ids[i], Generation: gen}
		if ids[i] == h.g.leader {
			req.Assignments = as
		}
		h.sync(fmt.Sprintf("rs%d", i), req)
	}
	if h.g.state != Stable {
		h.t.Fatalf("group is %s after everyone synced", h.g.state)
	}
	return ids, gen
}
