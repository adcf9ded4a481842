package actors

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/actors/groups"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// groupActor coordinates one consumer group: it owns the group's state machine and its
// timer, answers the group's requests and persists what must survive (committed
// offsets, completed generations) through Raft. A (re)started actor rebuilds the group
// from the metadata store.
type groupActor struct {
	n     *Node
	name  string
	entry *groupEntry
	log   zerolog.Logger

	g          *groups.Group
	hasOffsets bool // the store may hold offsets of the group
	// pendingCommits counts, per partition, the commits proposed and not yet applied:
	// expiry reads the store, which does not show them yet (Kafka's pendingOffsetCommits).
	pendingCommits map[fsm.GroupPartition]int
	finishing      bool // deleted, waiting for the manager to stop us

	timer   *time.Timer
	timerAt time.Time
}

func newGroupActor(n *Node, name string, entry *groupEntry) actor.Producer {
	return func() actor.Actor {
		return &groupActor{n: n, name: name, entry: entry, log: n.log.With().Str("actor", "group").Str("group", name).Logger()}
	}
}

// Messages a group actor serves besides the requests in group_api.go.
type (
	groupTimer    struct{}
	expireOffsets struct{}
	// groupStored reports a StoreGroup proposal's outcome; replies waited for it.
	groupStored struct {
		replies []groups.Reply
		err     error
	}
	// commitApplied reports that a commit's proposal has an outcome (or timed out).
	commitApplied struct{ parts []fsm.GroupPartition }
	// groupRemoved reports the outcome of deleting the group (DeleteGroups or expiry).
	groupRemoved struct {
		err   error
		reply chan int16 // nil for expiry
	}
)

func (a *groupActor) Receive(ctx actor.Context) {
	if gm, ok := ctx.Message().(groupMessage); ok && a.finishing {
		// The group is going away: the client retries and meets the actor that
		// replaces this one.
		gm.fail(kerr.CoordinatorNotAvailable.Code)
		return
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.load()
		a.settle(ctx, false) // a group started for a request must see that request first
		return
	case *actor.Stopping, *actor.Restarting:
		if a.timer != nil {
			a.timer.Stop()
		}
		if a.g != nil {
			// The parked requests die with this instance: send their clients to find
			// the coordinator again rather than leave them waiting.
			deliver(a.g.AbandonParked(kerr.CoordinatorNotAvailable.Code).Replies)
		}
		return
	case *joinGroupMsg:
		a.apply(ctx, a.g.Join(time.Now(), m.req, m.reply))
	case *syncGroupMsg:
		a.apply(ctx, a.g.Sync(time.Now(), m.req, m.reply))
	case *heartbeatMsg:
		m.reply <- a.g.Heartbeat(time.Now(), m.ref)
	case *leaveGroupMsg:
		results, out := a.g.Leave(time.Now(), m.refs)
		m.reply <- leaveReply{results: results}
		a.apply(ctx, out)
	case *commitOffsetsMsg:
		a.commit(ctx, m)
	case *commitApplied:
		// A restarted actor starts with no pending commits, and may hear of the ones its
		// predecessor proposed: they only ever end.
		for _, p := range m.parts {
			if left := a.pendingCommits[p] - 1; left > 0 {
				a.pendingCommits[p] = left
			} else {
				delete(a.pendingCommits, p)
			}
		}
	case *describeGroupMsg:
		m.reply <- describeReply{desc: a.g.Describe()}
	case *deleteGroupMsg:
		a.delete(ctx, m)
	case *deleteOffsetsMsg:
		a.deleteOffsets(m)
	case *groupTimer:
		a.timerAt = time.Time{}
		a.apply(ctx, a.g.Tick(time.Now()))
	case *expireOffsets:
		a.expire(ctx)
	case *groupStored:
		if m.err != nil {
			a.log.Warn().Err(m.err).Msg("group generation not stored; a restart may cost a rebalance")
		}
		deliver(m.replies)
	case *groupRemoved:
		a.removed(ctx, m)
	default:
		return
	}
	a.settle(ctx, true)
}

// load builds the group from the store: its last stored generation, or an empty group.
func (a *groupActor) load() {
	now := time.Now()
	cfg := groups.Config{
		MinSessionTimeout: a.n.groupOpts.MinSessionTimeout, MaxSessionTimeout: a.n.groupOpts.MaxSessionTimeout,
		InitialRebalanceDelay: a.n.groupOpts.InitialRebalanceDelay, NewMemberID: newMemberID,
	}
	rec, err := a.n.opts.Store.LoadGroup(a.name)
	if err != nil {
		panic(err) // retried by the supervisor; the log says why
	}
	offsets, err := a.n.opts.Store.LoadOffsets(a.name)
	if err != nil {
		panic(err)
	}
	a.hasOffsets = len(offsets) > 0
	if rec != nil {
		a.g = groups.Restore(rec, cfg, now)
		a.log.Debug().Int32("generation", rec.Generation).Int("members", len(rec.Members)).Int("offsets", len(offsets)).Msg("group restored from the metadata store")
	} else {
		a.g = groups.New(a.name, cfg, now)
	}
	a.finishing = false
}

// newMemberID is Kafka's member id form: the client (or instance) id and a random uuid.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return prefix + "-" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// apply logs what happened and sends the replies, after persisting the group first when
// the state machine asks for it: a member is told about a generation only once it is
// durable, so a coordinator restart resumes exactly what clients were told.
func (a *groupActor) apply(ctx actor.Context, out groups.Output) {
	for _, e := range out.Events {
		a.log.Info().Msg(e)
	}
	if !out.Store {
		deliver(out.Replies)
		return
	}
	rec := a.g.Record()
	applied := a.n.proposeAsync(fsm.Command{StoreGroup: &fsm.StoreGroup{Group: rec}})
	self := ctx.Self()
	replies := out.Replies
	timeout := a.n.proposalWait()
	go func() {
		r := waitProposal(applied, timeout)
		err := r.err
		if err == nil && len(r.results) > 0 && !r.results[0].OK() {
			err = errors.New(r.results[0].Message)
		}
		a.n.root.Send(self, &groupStored{replies: replies, err: err})
	}()
}

// deliver answers parked JoinGroup and SyncGroup requests. Each waiter is a channel with
// room for its one answer, so this never blocks.
func deliver(replies []groups.Reply) {
	for _, r := range replies {
		switch w := r.To.(type) {
		case chan groups.JoinResult:
			select {
			case w <- *r.Join:
			default:
			}
		case chan groups.SyncResult:
			select {
			case w <- *r.Sync:
			default:
			}
		}
	}
}

// settle runs after every message: it publishes the group's summary, arms the timer for
// the state machine's next deadline and (with dispose) lets go of a group that holds
// nothing.
func (a *groupActor) settle(ctx actor.Context, dispose bool) {
	s := &groupSummary{state: a.g.State(), protocolType: a.g.ProtocolType()}
	if cur := a.entry.summary.Load(); cur == nil || *cur != *s {
		a.entry.summary.Store(s)
	}
	if a.finishing {
		return
	}
	if dispose && a.g.Disposable() && !a.hasOffsets {
		a.finish(ctx)
		return
	}
	at, ok := a.g.NextDeadline()
	if !ok {
		return
	}
	// Re-arm only for an earlier deadline: heartbeats move deadlines later all the time,
	// and a timer that fires early finds nothing due and re-arms.
	if !a.timerAt.IsZero() && !at.Before(a.timerAt) {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	self := ctx.Self()
	a.timerAt = at
	a.timer = time.AfterFunc(time.Until(at), func() { a.n.root.Send(self, &groupTimer{}) })
}

// finish marks the group gone and has the manager stop this actor.
func (a *groupActor) finish(ctx actor.Context) {
	a.finishing = true
	if a.timer != nil {
		a.timer.Stop()
	}
	ctx.Send(a.n.pids.groups, &groupFinished{name: a.name, pid: ctx.Self()})
}

// commit validates an OffsetCommit and proposes the offsets; the caller waits for them
// to be applied (durable) before answering the client. Until then the partitions count
// as pending, so an expiry check meanwhile neither deletes them nor the group.
func (a *groupActor) commit(ctx actor.Context, m *commitOffsetsMsg) {
	if code := a.g.CheckCommit(time.Now(), m.ref); code != 0 {
		m.reply <- commitStarted{code: code}
		return
	}
	if len(m.offsets) == 0 {
		m.reply <- commitStarted{} // the committer was all the caller needed checked
		return
	}
	a.hasOffsets = true
	parts := make([]fsm.GroupPartition, len(m.offsets))
	if a.pendingCommits == nil {
		a.pendingCommits = map[fsm.GroupPartition]int{}
	}
	for i, o := range m.offsets {
		parts[i] = fsm.GroupPartition{Topic: o.Topic, Partition: o.Partition}
		a.pendingCommits[parts[i]]++
	}
	applied := a.n.proposeAsync(fsm.Command{CommitOffsets: &fsm.CommitOffsets{Group: a.name, Offsets: m.offsets}})
	forwarded := make(chan proposeResult, 1)
	m.reply <- commitStarted{applied: forwarded}
	self := ctx.Self()
	timeout := a.n.proposalWait()
	go func() {
		// On a timeout nothing is forwarded: the caller's own wait ends at the same bound.
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case r := <-applied:
			forwarded <- r
		case <-timer.C:
		}
		a.n.root.Send(self, &commitApplied{parts: parts})
	}()
}

func (a *groupActor) delete(ctx actor.Context, m *deleteGroupMsg) {
	if code := a.g.CheckDelete(); code != 0 {
		m.reply <- code
		return
	}
	a.removeGroup(ctx, m.reply)
}

// removeGroup marks the group dead at once (joins now get COORDINATOR_NOT_AVAILABLE and
// retry against the group that replaces it) and deletes it from the store.
func (a *groupActor) removeGroup(ctx actor.Context, reply chan int16) {
	a.g.MarkDead(time.Now())
	a.finishing = true
	if a.timer != nil {
		a.timer.Stop()
	}
	applied := a.n.proposeAsync(fsm.Command{DeleteGroup: &fsm.DeleteGroup{Group: a.name}})
	self := ctx.Self()
	timeout := a.n.proposalWait()
	go func() {
		r := waitProposal(applied, timeout)
		a.n.root.Send(self, &groupRemoved{err: r.err, reply: reply})
	}()
}

func (a *groupActor) removed(ctx actor.Context, m *groupRemoved) {
	if m.err != nil {
		// Not deleted after all: carry on as the store says the group is.
		a.log.Warn().Err(m.err).Msg("delete group")
		a.load()
		if m.reply != nil {
			m.reply <- proposeErrorCode(m.err)
		}
		return
	}
	a.log.Info().Msg("group deleted")
	// The manager answers, once it no longer routes the group here: a request the client
	// sends after its DeleteGroups answer then reaches the group's next actor.
	ctx.Send(a.n.pids.groups, &groupFinished{name: a.name, pid: ctx.Self(), reply: m.reply})
}

func (a *groupActor) deleteOffsets(m *deleteOffsetsMsg) {
	codes := make([]int16, len(m.partitions))
	if code := a.g.CheckOffsetDelete(); code != 0 {
		m.reply <- deleteOffsetsStarted{code: code}
		return
	}
	var del []fsm.GroupPartition
	for i, p := range m.partitions {
		if a.g.IsSubscribedTo(p.Topic) {
			codes[i] = kerr.GroupSubscribedToTopic.Code
			continue
		}
		del = append(del, fsm.GroupPartition{Topic: p.Topic, Partition: p.Partition})
	}
	started := deleteOffsetsStarted{codes: codes}
	if len(del) > 0 {
		started.applied = a.n.proposeAsync(fsm.Command{DeleteOffsets: &fsm.DeleteOffsets{Group: a.name, Partitions: del}})
	}
	m.reply <- started
}

// expire deletes offsets past offsets.retention.minutes, and the whole group once it is
// empty with no offsets left (Kafka's group metadata cleanup).
func (a *groupActor) expire(ctx actor.Context) {
	if a.finishing || a.g.State() == groups.Dead {
		return
	}
	now := time.Now()
	offsets, err := a.n.opts.Store.LoadOffsets(a.name)
	if err != nil {
		a.log.Warn().Err(err).Msg("load offsets for expiry")
		return
	}
	expired := a.g.ExpiredOffsets(now, a.n.groupOpts.OffsetsRetention, offsets)
	expired = slices.DeleteFunc(expired, func(o metastore.CommittedOffset) bool {
		return a.pendingCommits[fsm.GroupPartition{Topic: o.Topic, Partition: o.Partition}] > 0
	})
	if a.g.State() == groups.Empty && len(expired) == len(offsets) && len(a.pendingCommits) == 0 {
		if len(expired) > 0 {
			a.log.Info().Int("offsets", len(expired)).Msg("offsets expired; removing the empty group")
		}
		a.removeGroup(ctx, nil)
		return
	}
	if len(expired) == 0 {
		return
	}
	parts := make([]fsm.GroupPartition, len(expired))
	for i, o := range expired {
		parts[i] = fsm.GroupPartition{Topic: o.Topic, Partition: o.Partition}
	}
	a.log.Info().Int("offsets", len(parts)).Msg("committed offsets expired")
	_ = a.n.proposeAsync(fsm.Command{DeleteOffsets: &fsm.DeleteOffsets{Group: a.name, Partitions: parts}})
}

// proposeAsync hands commands to the proposer and returns where the outcome arrives. The
// send happens now, in the caller's order, so an actor's proposals apply in the order it
// made them.
func (n *Node) proposeAsync(cmds ...fsm.Command) <-chan proposeResult {
	reply := make(chan proposeResult, 1)
	n.root.Send(n.pids.proposer, &proposeRequest{cmds: cmds, deadline: time.Now().Add(n.proposalTimeout()), reply: reply})
	return reply
}

func (n *Node) proposalTimeout() time.Duration {
	if t := n.opts.Raft.ProposalTimeout; t > 0 {
		return t
	}
	return 10 * time.Second
}

// proposalWait bounds the wait for a proposal's outcome: the proposer answers by the
// deadline, unless it restarted and forgot the proposal.
func (n *Node) proposalWait() time.Duration { return n.proposalTimeout() + 2*time.Second }

// waitProposal waits for a proposal's outcome for at most timeout (ErrTimeout then).
func waitProposal(applied <-chan proposeResult, timeout time.Duration) proposeResult {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-applied:
		return r
	case <-timer.C:
		return proposeResult{err: ErrTimeout}
	}
}

// proposeErrorCode is the Kafka error a group request gets when its change could not be
// applied: NOT_COORDINATOR when Raft has no leader here (the client looks again) or the
// metadata's disk is full (Kafka's coordinator answers a KAFKA_STORAGE_ERROR from its log
// so: GroupMetadataManager.storeOffsets), otherwise the proposal's own code.
func proposeErrorCode(err error) int16 {
	var pe *ProposeError
	if errors.As(err, &pe) {
		if pe.Code == kerr.NotController.Code || pe.Code == kerr.KafkaStorageError.Code {
			return kerr.NotCoordinator.Code
		}
		return pe.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}
