package groups

import (
	"bytes"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
)

// Group is one classic consumer group. It is not safe for concurrent use: its owner (one
// actor per group) serialises every call.
type Group struct {
	name string
	cfg  Config

	state        State
	stateSince   time.Time
	protocolType string
	protocol     string
	generation   int32
	leader       string

	members map[string]*member
	pending map[string]time.Time // KIP-394 members told MEMBER_ID_REQUIRED, until their deadline
	static  map[string]string    // group instance id -> member id
	nextSeq uint64

	// subscribed is the union of the members' subscribed topics for the current
	// generation when the group uses the consumer protocol and every member's metadata
	// parses; nil otherwise.
	subscribed map[string]bool

	// Join phase (PreparingRebalance): it ends at joinDeadline at the latest. The first
	// rebalance of an empty group waits group.initial.rebalance.delay.ms for more members,
	// extended while new members keep arriving, up to the rebalance timeout.
	joinDeadline     time.Time
	initialJoin      bool
	initialDelay     time.Duration
	initialRemaining time.Duration
	newMemberAdded   bool

	// Sync phase: members that got their JoinGroup answer and have not sent SyncGroup by
	// syncDeadline are removed.
	pendingSync  map[string]bool
	syncDeadline time.Time
}

type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []Protocol
	assignment       []byte
	seq              uint64 // join order: leader election and listings are deterministic
	isNew            bool   // joined during the current rebalance and not answered yet

	awaitingJoin bool
	joinWaiter   Waiter
	awaitingSync bool
	syncWaiter   Waiter

	// deadline is when the member's session expires without a heartbeat; zero while a
	// JoinGroup or SyncGroup of the member is parked (the member cannot heartbeat then).
	deadline time.Time
}

// New returns an empty group.
func New(name string, cfg Config, now time.Time) *Group {
	return &Group{
		name: name, cfg: cfg, state: Empty, stateSince: now,
		members: map[string]*member{}, pending: map[string]time.Time{}, static: map[string]string{},
	}
}

// Restore rebuilds a group from its stored record. A stored generation resumes as
// Stable: its members keep heartbeating as if nothing happened and static members can
// rejoin without a rebalance; members that do not come back expire after their session
// timeout, counted from now.
func Restore(rec *metastore.GroupRecord, cfg Config, now time.Time) *Group {
	g := New(rec.Name, cfg, now)
	g.protocolType, g.generation = rec.ProtocolType, rec.Generation
	if rec.StateSinceMs > 0 {
		g.stateSince = time.UnixMilli(rec.StateSinceMs)
	}
	if len(rec.Members) == 0 {
		return g
	}
	g.state, g.protocol, g.leader, g.stateSince = Stable, rec.Protocol, rec.Leader, now
	for _, sm := range rec.Members {
		m := &member{
			id: sm.ID, instanceID: sm.InstanceID, clientID: sm.ClientID, clientHost: sm.ClientHost,
			sessionTimeout:   time.Duration(sm.SessionTimeoutMs) * time.Millisecond,
			rebalanceTimeout: time.Duration(sm.RebalanceTimeoutMs) * time.Millisecond,
			protocols:        []Protocol{{Name: rec.Protocol, Metadata: sm.Metadata}},
			assignment:       sm.Assignment, seq: g.nextSeq,
		}
		g.nextSeq++
		m.deadline = now.Add(m.sessionTimeout)
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if g.members[g.leader] == nil {
		g.leader = g.sortedMembers()[0].id
	}
	g.subscribed = g.computeSubscribed()
	return g
}

// Name is the group id.
func (g *Group) Name() string { return g.name }

// State is the current state.
func (g *Group) State() State { return g.state }

// ProtocolType is the protocol type of the group's members ("consumer" for consumers);
// empty for a group that only stores offsets.
func (g *Group) ProtocolType() string { return g.protocolType }

// Generation is the current generation id.
func (g *Group) Generation() int32 { return g.generation }

// StateSince is when the group entered its current state.
func (g *Group) StateSince() time.Time { return g.stateSince }

// Disposable reports whether the group holds nothing worth keeping: it is empty, has
// never completed a generation and nobody is about to join. A group created by a
// request that failed (or only asked about it) is dropped again, like Kafka does.
func (g *Group) Disposable() bool {
	return g.state == Empty && g.generation == 0 && len(g.members) == 0 && len(g.pending) == 0
}

// MarkDead ends the group (after DeleteGroups or once its last offsets expired).
func (g *Group) MarkDead(now time.Time) {
	g.transition(Dead, now)
	g.pending = map[string]time.Time{}
	g.joinDeadline, g.syncDeadline = time.Time{}, time.Time{}
}

// Record is the group as it is persisted.
func (g *Group) Record() metastore.GroupRecord {
	rec := metastore.GroupRecord{
		Name: g.name, ProtocolType: g.protocolType, Protocol: g.protocol, Generation: g.generation,
		Leader: g.leader, StateSinceMs: g.stateSince.UnixMilli(),
	}
	for _, m := range g.sortedMembers() {
		rec.Members = append(rec.Members, metastore.GroupMember{
			ID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			SessionTimeoutMs: int32(m.sessionTimeout / time.Millisecond), RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
			Metadata: m.metadataFor(g.protocol), Assignment: m.assignment,
		})
	}
	return rec
}

// Describe reports the group's state and members.
func (g *Group) Describe() Description {
	d := Description{
		Name: g.name, State: g.state, ProtocolType: g.protocolType, Protocol: g.protocol,
		Generation: g.generation, Leader: g.leader,
	}
	for _, m := range g.sortedMembers() {
		d.Members = append(d.Members, MemberDescription{
			MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost,
			Metadata: m.metadataFor(g.protocol), Assignment: m.assignment,
			SessionTimeout: m.sessionTimeout, RebalanceTimeout: m.rebalanceTimeout,
		})
	}
	return d
}

// IsSubscribedTo reports whether the current generation's consumers subscribe to topic
// (OffsetDelete refuses to delete such offsets).
func (g *Group) IsSubscribedTo(topic string) bool { return g.subscribed[topic] }

func (g *Group) transition(s State, now time.Time) {
	g.state, g.stateSince = s, now
}

func (g *Group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether a rejoin carries exactly the protocols the member has.
func (m *member) matches(protocols []Protocol) bool {
	return slices.EqualFunc(m.protocols, protocols, func(a, b Protocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// supportsProtocols is Kafka's admission rule: the first member sets the protocol type;
// later ones must share it and support a protocol every current member supports.
func (g *Group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	counts := g.protocolSupport()
	for _, p := range protocols {
		if counts[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

func (g *Group) protocolSupport() map[string]int {
	counts := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			counts[p.Name]++
		}
	}
	return counts
}

// selectProtocol picks the protocol every member supports that most members prefer; a
// tie goes to the one the longest-standing member prefers.
func (g *Group) selectProtocol() string {
	counts := g.protocolSupport()
	votes := map[string]int{}
	members := g.sortedMembers()
	for _, m := range members {
		for _, p := range m.protocols {
			if counts[p.Name] == len(g.members) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for _, p := range members[0].protocols {
		if v := votes[p.Name]; v > bestVotes {
			best, bestVotes = p.Name, v
		}
	}
	return best
}

func (g *Group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// joinMembers is the member list the leader assigns from.
func (g *Group) joinMembers() []JoinMember {
	var out []JoinMember
	for _, m := range g.sortedMembers() {
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadataFor(g.protocol)})
	}
	return out
}

// computeSubscribed unions the consumer subscriptions of the members, or returns nil if
// the group is not a consumer group or a member's metadata does not parse.
func (g *Group) computeSubscribed() map[string]bool {
	if g.protocolType != "consumer" || len(g.members) == 0 {
		return nil
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	return topics
}

// AbandonParked answers every parked JoinGroup and SyncGroup with code: the owner is
// about to lose the group's state (it stops or restarts), and a client that is told to
// retry rejoins the group as it is rebuilt from the store.
func (g *Group) AbandonParked(code int16) Output {
	var out Output
	for _, m := range g.sortedMembers() {
		if m.awaitingJoin {
			out.Replies = append(out.Replies, Reply{To: m.joinWaiter, Join: &JoinResult{Code: code, Generation: -1, MemberID: m.id}})
			m.awaitingJoin, m.joinWaiter = false, nil
		}
		if m.awaitingSync {
			out.Replies = append(out.Replies, Reply{To: m.syncWaiter, Sync: &SyncResult{Code: code}})
			m.awaitingSync, m.syncWaiter = false, nil
		}
	}
	return out
}
