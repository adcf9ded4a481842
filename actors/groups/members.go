package groups

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sync handles a SyncGroup. Members wait until the leader's assignment arrives; the
// leader's SyncGroup completes the generation (Output.Store: the replies go out once the
// generation is durable).
func (g *Group) Sync(now time.Time, req *SyncRequest, w Waiter) Output {
	fail := func(code int16) Output {
		return Output{Replies: []Reply{{To: w, Sync: &SyncResult{Code: code}}}}
	}
	if g.state == Dead {
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return fail(code)
	}
	if req.Generation != g.generation {
		return fail(kerr.IllegalGeneration.Code)
	}
	if inconsistent(req.ProtocolType, g.protocolType) || inconsistent(req.Protocol, g.protocol) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		return fail(kerr.UnknownMemberID.Code)
	case PreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case Stable:
		delete(g.pendingSync, m.id)
		m.deadline = now.Add(m.sessionTimeout)
		return Output{Replies: []Reply{{To: w, Sync: g.syncResult(m)}}}
	}
	// CompletingRebalance: wait for the leader's assignment.
	var out Output
	delete(g.pendingSync, m.id)
	if m.awaitingSync {
		// A retry while the first is parked: that client gave up on the first.
		out.Replies = append(out.Replies, Reply{To: m.syncWaiter, Sync: &SyncResult{Code: kerr.RebalanceInProgress.Code}})
	}
	m.awaitingSync, m.syncWaiter, m.deadline = true, w, time.Time{}
	if m.id != g.leader {
		return out
	}
	assigned := map[string][]byte{}
	for _, a := range req.Assignments {
		assigned[a.MemberID] = a.Assignment
	}
	var missing []string
	for _, o := range g.sortedMembers() {
		a, ok := assigned[o.id]
		if !ok {
			missing = append(missing, o.id)
		}
		o.assignment = a
	}
	g.transition(Stable, now)
	for _, o := range g.sortedMembers() {
		if o.awaitingSync {
			out.Replies = append(out.Replies, Reply{To: o.syncWaiter, Sync: g.syncResult(o)})
			o.awaitingSync, o.syncWaiter = false, nil
			o.deadline = now.Add(o.sessionTimeout)
		}
	}
	out.Store = true
	out.Events = append(out.Events, fmt.Sprintf("generation %d is stable with %d members", g.generation, len(g.members)))
	if len(missing) > 0 {
		out.Events = append(out.Events, fmt.Sprintf("leader %s sent no assignment for %s; they get an empty one", m.id, strings.Join(missing, ", ")))
	}
	return out
}

func (g *Group) syncResult(m *member) *SyncResult {
	return &SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}
}

// inconsistent reports a SyncGroup v5+ protocol (type) that is not the group's.
func inconsistent(sent *string, group string) bool {
	return sent != nil && group != "" && *sent != group
}

// Heartbeat keeps a member's session alive and tells it whether a rebalance is running.
func (g *Group) Heartbeat(now time.Time, req MemberRef) int16 {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if g.state == Empty {
		return kerr.UnknownMemberID.Code
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.members[req.MemberID]
	if !m.awaitingJoin && !m.awaitingSync {
		m.deadline = now.Add(m.sessionTimeout)
	}
	if g.state == PreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// Leave removes members (LeaveGroup; v3+ may name static members by instance id alone).
func (g *Group) Leave(now time.Time, refs []MemberRef) ([]LeaveResult, Output) {
	var out Output
	results := make([]LeaveResult, len(refs))
	left := 0
	for i, ref := range refs {
		results[i] = LeaveResult{MemberID: ref.MemberID, InstanceID: ref.InstanceID}
		if g.state == Dead {
			results[i].Code = kerr.CoordinatorNotAvailable.Code
			continue
		}
		id := ref.MemberID
		if _, pending := g.pending[id]; pending {
			delete(g.pending, id)
			left++
			continue
		}
		if id == "" && ref.InstanceID != nil {
			// An administrative removal names the static member by instance id alone.
			known, ok := g.static[*ref.InstanceID]
			if !ok {
				results[i].Code = kerr.UnknownMemberID.Code
				continue
			}
			id = known
		} else if code := g.validateMember(id, ref.InstanceID); code != 0 {
			results[i].Code = code
			continue
		}
		out.merge(g.removeMember(g.members[id], "left the group: "+reasonOr(ref.Reason, "LeaveGroup")))
		left++
	}
	if left == 0 {
		return results, out
	}
	switch g.state {
	case Stable, CompletingRebalance:
		out.merge(g.prepareRebalance(now, fmt.Sprintf("%d member(s) left", left)))
	case PreparingRebalance:
		out.merge(g.tryCompleteJoin(now))
	}
	return results, out
}

// CheckCommit decides whether an OffsetCommit may be stored. Generation -1 with no member
// is a standalone (or admin) commit, allowed while the group has no members. A valid
// member's commit also counts as a sign of life.
func (g *Group) CheckCommit(now time.Time, req MemberRef) int16 {
	if g.state == Dead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if req.Generation < 0 && g.state == Empty {
		return 0
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
			return code
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	} else if g.state != Empty {
		return kerr.UnknownMemberID.Code
	}
	if g.state == CompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	if m := g.members[req.MemberID]; m != nil && !m.awaitingJoin && !m.awaitingSync {
		m.deadline = now.Add(m.sessionTimeout)
	}
	return 0
}

// CheckDelete decides whether DeleteGroups may delete the group.
func (g *Group) CheckDelete() int16 {
	switch g.state {
	case Dead:
		return kerr.GroupIDNotFound.Code
	case Empty:
		return 0
	}
	return kerr.NonEmptyGroup.Code
}

// CheckOffsetDelete decides whether OffsetDelete may delete offsets at all; per topic,
// IsSubscribedTo then refuses the topics a consumer group still reads.
func (g *Group) CheckOffsetDelete() int16 {
	switch g.state {
	case Dead:
		return kerr.GroupIDNotFound.Code
	case Empty:
		return 0
	}
	if g.protocolType != "consumer" {
		return kerr.NonEmptyGroup.Code
	}
	return 0
}
