package groups

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// maybeRebalance starts a rebalance from a settled state, or checks whether the running
// one can complete now.
func (g *Group) maybeRebalance(now time.Time, reason string) Output {
	switch g.state {
	case Empty, Stable, CompletingRebalance:
		return g.prepareRebalance(now, reason)
	case PreparingRebalance:
		out := Output{Events: []string{reason}}
		out.merge(g.tryCompleteJoin(now))
		return out
	}
	return Output{}
}

// prepareRebalance moves to PreparingRebalance: members must (re)join by the rebalance
// timeout; an empty group first waits the initial rebalance delay for more members.
func (g *Group) prepareRebalance(now time.Time, reason string) Output {
	out := Output{Events: []string{fmt.Sprintf("rebalance of generation %d started: %s", g.generation, reason)}}
	if g.state == CompletingRebalance {
		out.Replies = append(out.Replies, g.failParkedSyncs(now, kerr.RebalanceInProgress.Code)...)
	}
	g.pendingSync, g.syncDeadline = nil, time.Time{}
	initial := g.state == Empty
	g.transition(PreparingRebalance, now)
	if initial {
		g.initialJoin, g.newMemberAdded = true, false
		g.initialDelay = g.cfg.InitialRebalanceDelay
		g.initialRemaining = max(g.rebalanceTimeout()-g.cfg.InitialRebalanceDelay, 0)
		g.joinDeadline = now.Add(g.initialDelay)
		if g.initialDelay <= 0 {
			out.merge(g.expireJoin(now))
		}
		return out
	}
	g.initialJoin = false
	g.joinDeadline = now.Add(g.rebalanceTimeout())
	out.merge(g.tryCompleteJoin(now))
	return out
}

// failParkedSyncs answers every parked SyncGroup with code. The members' sessions run
// again from now: a member that never rejoins must still expire.
func (g *Group) failParkedSyncs(now time.Time, code int16) []Reply {
	var replies []Reply
	for _, m := range g.sortedMembers() {
		m.assignment = nil
		if m.awaitingSync {
			replies = append(replies, Reply{To: m.syncWaiter, Sync: &SyncResult{Code: code}})
			m.awaitingSync, m.syncWaiter = false, nil
			m.deadline = now.Add(m.sessionTimeout)
		}
	}
	return replies
}

func (g *Group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if !m.awaitingJoin {
			return false
		}
	}
	return true
}

// tryCompleteJoin ends the join phase early once every member (and every member that
// was told MEMBER_ID_REQUIRED) has joined. The initial delay never ends early: waiting
// for more members is its point.
func (g *Group) tryCompleteJoin(now time.Time) Output {
	if g.state != PreparingRebalance || g.initialJoin || !g.allJoined() {
		return Output{}
	}
	return g.completeJoin(now)
}

// expireJoin runs when the join phase's deadline passes.
func (g *Group) expireJoin(now time.Time) Output {
	if g.initialJoin && g.newMemberAdded && g.initialRemaining > 0 {
		g.newMemberAdded = false
		delay := min(g.cfg.InitialRebalanceDelay, g.initialRemaining)
		g.initialRemaining = max(g.initialRemaining-g.initialDelay, 0)
		g.initialDelay = delay
		g.joinDeadline = now.Add(delay)
		return Output{}
	}
	g.initialJoin = false
	return g.completeJoin(now)
}

// completeJoin ends the join phase: dynamic members that did not rejoin are dropped, the
// generation advances, the protocol is chosen and every joined member gets its answer
// (the leader with the member list to assign from).
func (g *Group) completeJoin(now time.Time) Output {
	var out Output
	for _, m := range g.sortedMembers() {
		if !m.awaitingJoin && m.instanceID == nil {
			out.merge(g.removeMember(m, "did not rejoin in time"))
		}
	}
	if len(g.members) > 0 && !g.electJoinedLeader() {
		// Only static members that have not rejoined remain: wait for them (or for their
		// sessions to expire) rather than completing a generation nobody would lead.
		g.joinDeadline = now.Add(g.rebalanceTimeout())
		return out
	}
	g.joinDeadline = time.Time{}
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader, g.subscribed = "", "", nil
		g.transition(Empty, now)
		out.Store = true
		out.Events = append(out.Events, fmt.Sprintf("group is empty at generation %d", g.generation))
		return out
	}
	g.protocol = g.selectProtocol()
	g.subscribed = g.computeSubscribed()
	g.transition(CompletingRebalance, now)
	g.pendingSync = map[string]bool{}
	members := g.joinMembers()
	for _, m := range g.sortedMembers() {
		g.pendingSync[m.id] = true
		m.isNew = false
		m.deadline = now.Add(m.sessionTimeout)
		if !m.awaitingJoin {
			continue // a static member that has not rejoined learns the generation when it does
		}
		r := &JoinResult{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, LeaderID: g.leader, MemberID: m.id}
		if m.id == g.leader {
			r.Members = members
		}
		out.Replies = append(out.Replies, Reply{To: m.joinWaiter, Join: r})
		m.awaitingJoin, m.joinWaiter = false, nil
	}
	g.syncDeadline = now.Add(g.rebalanceTimeout())
	out.Events = append(out.Events, fmt.Sprintf("generation %d: %d members, protocol %s, leader %s", g.generation, len(g.members), g.protocol, g.leader))
	return out
}

// electJoinedLeader keeps the leader if it rejoined, else picks the longest-standing
// member that did; false if no member rejoined.
func (g *Group) electJoinedLeader() bool {
	if m := g.members[g.leader]; m != nil && m.awaitingJoin {
		return true
	}
	for _, m := range g.sortedMembers() {
		if m.awaitingJoin {
			g.leader = m.id
			return true
		}
	}
	return false
}

// removeMember drops a member, answering its parked requests with UNKNOWN_MEMBER_ID so a
// client that is still alive joins again.
func (g *Group) removeMember(m *member, why string) Output {
	out := Output{Events: []string{fmt.Sprintf("member %s removed: %s", m.id, why)}}
	if m.awaitingJoin {
		out.Replies = append(out.Replies, Reply{To: m.joinWaiter, Join: &JoinResult{Code: kerr.UnknownMemberID.Code, Generation: -1}})
	}
	if m.awaitingSync {
		out.Replies = append(out.Replies, Reply{To: m.syncWaiter, Sync: &SyncResult{Code: kerr.UnknownMemberID.Code}})
	}
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if rest := g.sortedMembers(); len(rest) > 0 {
			g.leader = rest[0].id
		}
	}
	return out
}

// removeMemberAndUpdate removes a member and moves the group on: a settled group
// rebalances, a rebalancing one may now have everyone it waits for.
func (g *Group) removeMemberAndUpdate(now time.Time, m *member, why string) Output {
	out := g.removeMember(m, why)
	switch g.state {
	case Stable, CompletingRebalance:
		out.merge(g.prepareRebalance(now, fmt.Sprintf("member %s left: %s", m.id, why)))
	case PreparingRebalance:
		out.merge(g.tryCompleteJoin(now))
	}
	return out
}

// NextDeadline is when Tick must run next; ok is false when no timer is pending.
func (g *Group) NextDeadline() (at time.Time, ok bool) {
	consider := func(t time.Time) {
		if !t.IsZero() && (!ok || t.Before(at)) {
			at, ok = t, true
		}
	}
	for _, t := range g.pending {
		consider(t)
	}
	for _, m := range g.members {
		consider(m.deadline)
	}
	if g.state == PreparingRebalance {
		consider(g.joinDeadline)
	}
	if len(g.pendingSync) > 0 {
		consider(g.syncDeadline)
	}
	return at, ok
}

// Tick runs every timer due at now: session expiry of members and of pending members,
// the end of the join phase and the sync deadline.
func (g *Group) Tick(now time.Time) Output {
	var out Output
	if g.state == Dead {
		return out
	}
	for id, deadline := range g.pending {
		if !now.Before(deadline) {
			delete(g.pending, id)
			out.Events = append(out.Events, fmt.Sprintf("pending member %s expired before joining", id))
			out.merge(g.tryCompleteJoin(now))
		}
	}
	for _, m := range g.sortedMembers() {
		if m.deadline.IsZero() || now.Before(m.deadline) || g.members[m.id] != m {
			continue
		}
		if (m.awaitingJoin || m.awaitingSync) && !m.isNew {
			m.deadline = time.Time{} // parked: alive until answered
			continue
		}
		out.merge(g.removeMemberAndUpdate(now, m, fmt.Sprintf("session timeout (%v) expired", m.sessionTimeout)))
	}
	if g.state == PreparingRebalance && !g.joinDeadline.IsZero() && !now.Before(g.joinDeadline) {
		out.merge(g.expireJoin(now))
	}
	if (g.state == CompletingRebalance || g.state == Stable) && len(g.pendingSync) > 0 && !now.Before(g.syncDeadline) {
		var late []string
		for _, m := range g.sortedMembers() {
			if g.pendingSync[m.id] {
				late = append(late, m.id)
				out.merge(g.removeMember(m, "no SyncGroup within the rebalance timeout"))
			}
		}
		g.pendingSync = nil
		out.merge(g.prepareRebalance(now, fmt.Sprintf("members %v did not sync", late)))
	}
	return out
}
