package groups

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Join handles a JoinGroup. Its answer comes back in the Output, now or (for a member
// that has to wait for the rebalance) from a later call.
func (g *Group) Join(now time.Time, req *JoinRequest, w Waiter) Output {
	var out Output
	fail := func(code int16) Output {
		out.Replies = append(out.Replies, Reply{To: w, Join: &JoinResult{Code: code, Generation: -1, MemberID: req.MemberID}})
		return out
	}
	switch {
	case g.state == Dead:
		// The group was just deleted; the client finds the coordinator again and joins
		// the group that replaces it.
		return fail(kerr.CoordinatorNotAvailable.Code)
	case req.SessionTimeout < g.cfg.MinSessionTimeout || req.SessionTimeout > g.cfg.MaxSessionTimeout:
		return fail(kerr.InvalidSessionTimeout.Code)
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	if req.MemberID == "" {
		return g.joinNewMember(now, req, w)
	}
	return g.joinExistingMember(now, req, w)
}

func (g *Group) joinNewMember(now time.Time, req *JoinRequest, w Waiter) Output {
	if req.InstanceID != nil {
		if oldID, ok := g.static[*req.InstanceID]; ok {
			return g.replaceStaticMember(now, oldID, req, w)
		}
	}
	prefix := req.ClientID
	if req.InstanceID != nil {
		prefix = *req.InstanceID
	}
	id := g.cfg.NewMemberID(prefix)
	if req.RequireKnownMemberID && req.InstanceID == nil {
		// KIP-394: the member learns its id first, so a client that times out and retries
		// does not leave a defunct member behind in the rebalance.
		g.pending[id] = now.Add(req.SessionTimeout)
		return Output{Replies: []Reply{{To: w, Join: &JoinResult{Code: kerr.MemberIDRequired.Code, Generation: -1, MemberID: id}}}}
	}
	return g.addMember(now, id, req, w)
}

func (g *Group) joinExistingMember(now time.Time, req *JoinRequest, w Waiter) Output {
	fail := func(code int16) Output {
		return Output{Replies: []Reply{{To: w, Join: &JoinResult{Code: code, Generation: -1, MemberID: req.MemberID}}}}
	}
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		return g.addMember(now, req.MemberID, req, w)
	}
	if code := g.validateMember(req.MemberID, req.InstanceID); code != 0 {
		return fail(code)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case PreparingRebalance:
		return g.updateMemberAndRebalance(now, m, req, w, "member "+m.id+" joined during the rebalance")
	case CompletingRebalance:
		if m.matches(req.Protocols) {
			// The member lost our answer; give it again.
			return g.currentGenerationReply(m, w, g.leader == m.id, false)
		}
		return g.updateMemberAndRebalance(now, m, req, w, "member "+m.id+" changed its protocols")
	case Stable:
		if g.leader == m.id || !m.matches(req.Protocols) {
			// A leader rejoins to have the assignment redone (for example after a topic
			// changed), which needs a new generation.
			return g.updateMemberAndRebalance(now, m, req, w, "member "+m.id+" rejoined: "+reasonOr(req.Reason, "leader or metadata changed"))
		}
		return g.currentGenerationReply(m, w, false, false)
	}
	return fail(kerr.UnknownMemberID.Code)
}

// validateMember checks a member id (and static instance id) against the group.
func (g *Group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		known, ok := g.static[*instanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case known != memberID:
			return kerr.FencedInstanceID.Code
		}
		return 0
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

func (g *Group) currentGenerationReply(m *member, w Waiter, withMembers, skipAssignment bool) Output {
	r := &JoinResult{
		Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol,
		LeaderID: g.leader, MemberID: m.id, SkipAssignment: skipAssignment,
	}
	if withMembers {
		r.Members = g.joinMembers()
	}
	return Output{Replies: []Reply{{To: w, Join: r}}}
}

// addMember adds a member waiting in JoinGroup and starts (or continues) a rebalance.
func (g *Group) addMember(now time.Time, id string, req *JoinRequest, w Waiter) Output {
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	m := &member{
		id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		sessionTimeout: req.SessionTimeout, rebalanceTimeout: req.RebalanceTimeout,
		protocols: req.Protocols, seq: g.nextSeq, isNew: true,
		awaitingJoin: true, joinWaiter: w, deadline: now.Add(newMemberJoinTimeout),
	}
	g.nextSeq++
	g.members[id] = m
	if req.InstanceID != nil {
		g.static[*req.InstanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	if g.state == PreparingRebalance && g.initialJoin {
		g.newMemberAdded = true
	}
	return g.maybeRebalance(now, fmt.Sprintf("member %s (client %s) joined: %s", id, req.ClientID, reasonOr(req.Reason, "new member")))
}

func (g *Group) updateMemberAndRebalance(now time.Time, m *member, req *JoinRequest, w Waiter, reason string) Output {
	var out Output
	if m.awaitingJoin {
		// A retry of a JoinGroup we still hold: the earlier request's client gave up on it.
		out.Replies = append(out.Replies, Reply{To: m.joinWaiter, Join: &JoinResult{Code: kerr.RebalanceInProgress.Code, Generation: -1, MemberID: m.id}})
	}
	m.protocols, m.sessionTimeout, m.rebalanceTimeout = req.Protocols, req.SessionTimeout, req.RebalanceTimeout
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.awaitingJoin, m.joinWaiter, m.deadline = true, w, time.Time{}
	if m.isNew {
		m.deadline = now.Add(newMemberJoinTimeout)
	}
	out.merge(g.maybeRebalance(now, reason))
	return out
}

// replaceStaticMember gives a rejoining static member (same group.instance.id, no member
// id) a new member id in place of the old one, fencing whoever used the old id. In a
// stable group whose protocol selection does not change, the member keeps its
// assignment and no rebalance happens (KIP-345).
func (g *Group) replaceStaticMember(now time.Time, oldID string, req *JoinRequest, w Waiter) Output {
	var out Output
	old := g.members[oldID]
	delete(g.members, oldID)
	if old.awaitingJoin {
		out.Replies = append(out.Replies, Reply{To: old.joinWaiter, Join: &JoinResult{Code: kerr.FencedInstanceID.Code, Generation: -1, MemberID: oldID}})
	}
	if old.awaitingSync {
		out.Replies = append(out.Replies, Reply{To: old.syncWaiter, Sync: &SyncResult{Code: kerr.FencedInstanceID.Code}})
	}
	previousLeader := g.leader
	m := &member{
		id: g.cfg.NewMemberID(*req.InstanceID), instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		sessionTimeout: req.SessionTimeout, rebalanceTimeout: req.RebalanceTimeout, protocols: req.Protocols,
		assignment: old.assignment, seq: old.seq, awaitingJoin: true, joinWaiter: w,
	}
	g.members[m.id] = m
	g.static[*req.InstanceID] = m.id
	if g.leader == oldID {
		g.leader = m.id
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[m.id] = true
	}
	out.Events = append(out.Events, fmt.Sprintf("static member %s replaced %s (instance %s)", m.id, oldID, *req.InstanceID))
	switch g.state {
	case Stable:
		if g.selectProtocol() != g.protocol {
			out.merge(g.prepareRebalance(now, "static member "+m.id+" changes the group's protocol"))
			return out
		}
		m.awaitingJoin, m.joinWaiter = false, nil
		m.deadline = now.Add(m.sessionTimeout)
		r := &JoinResult{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, MemberID: m.id}
		if req.SupportsSkipAssignment {
			r.LeaderID = g.leader
			if g.leader == m.id {
				r.Members, r.SkipAssignment = g.joinMembers(), true
			}
		} else {
			// Without KIP-814 a rejoining leader would redo the assignment; naming the
			// old leader id makes it a follower that keeps its stored assignment.
			r.LeaderID = previousLeader
		}
		out.Replies = append(out.Replies, Reply{To: w, Join: r})
		out.Store = true // the new member id must survive a restart
	case CompletingRebalance:
		// The leader may already be assigning with the old member id: start over.
		out.merge(g.prepareRebalance(now, "static member "+m.id+" rejoined during the sync phase"))
	case PreparingRebalance:
		out.merge(g.tryCompleteJoin(now))
	}
	return out
}

func reasonOr(reason, fallback string) string {
	if reason != "" {
		return reason
	}
	return fallback
}
