package actors

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/actors/groups"
)

// GroupOptions configure the consumer group coordinator.
type GroupOptions struct {
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms; 0: 30 minutes
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	OffsetsRetention      time.Duration // offsets.retention.minutes; 0: 7 days
	// RetentionCheckInterval is how often expired offsets are looked for (Kafka's
	// offsets.retention.check.interval.ms); 0: 10 minutes.
	RetentionCheckInterval time.Duration
	MaxMetadataBytes       int // offset.metadata.max.bytes; 0: 4096
}

func (o GroupOptions) withDefaults() GroupOptions {
	if o.MaxSessionTimeout <= 0 {
		o.MaxSessionTimeout = 30 * time.Minute
	}
	if o.OffsetsRetention <= 0 {
		o.OffsetsRetention = 7 * 24 * time.Hour
	}
	if o.RetentionCheckInterval <= 0 {
		o.RetentionCheckInterval = 10 * time.Minute
	}
	if o.MaxMetadataBytes <= 0 {
		o.MaxMetadataBytes = 4096
	}
	return o
}

// groupDirectory maps group ids to their actors for request handlers on any goroutine,
// and holds what each actor publishes about itself so ListGroups needs no message round.
// The groups manager is its only writer.
type groupDirectory struct {
	mu sync.RWMutex
	m  map[string]*groupEntry
}

type groupEntry struct {
	pid     *actor.PID
	summary atomic.Pointer[groupSummary]
}

type groupSummary struct {
	state        groups.State
	protocolType string
}

func (d *groupDirectory) get(name string) *groupEntry {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.m[name]
}

// send delivers msg to the group's actor while holding the directory's read lock, so a
// message is either in the actor's mailbox before the manager removes the entry (and
// before the poison pill that follows) or not sent at all: a request never lands in a
// stopping actor's mailbox behind its poison pill, where it would be dropped.
func (d *groupDirectory) send(root *actor.RootContext, name string, msg any) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e := d.m[name]
	if e == nil || e.pid == nil {
		return false
	}
	root.Send(e.pid, msg)
	return true
}

func (d *groupDirectory) set(name string, e *groupEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]*groupEntry{}
	}
	if e == nil {
		delete(d.m, name)
	} else {
		d.m[name] = e
	}
}

// list returns every group with its published summary.
func (d *groupDirectory) list() map[string]groupSummary {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make(map[string]groupSummary, len(d.m))
	for name, e := range d.m {
		if s := e.summary.Load(); s != nil {
			out[name] = *s
		}
	}
	return out
}

// groupManager starts one actor per consumer group: on first use and, once this node
// coordinates (leads the metadata Raft group), for every group the metadata store knows,
// so timers and expiry run for them. It stops an actor once its group is deleted or
// turns out to hold nothing, stops them all when this node stops coordinating, and fans
// out the periodic offset expiry check.
type groupManager struct {
	n   *Node
	log zerolog.Logger

	cancelTick  func()
	cancelCheck func()
	deadLetter  *eventstream.Subscription
	leading     bool // this node coordinates groups (leads the metadata Raft group)
	// restart holds, per group whose finished actor has not stopped yet (its name is
	// still taken), the requests waiting for its new actor; the actor starts when the
	// old one's Terminated arrives. A nil reply is a start nobody waits for.
	restart map[string][]chan *actor.PID
}

type (
	ensureGroup struct {
		name  string
		reply chan *actor.PID
	}
	// groupFinished asks the manager to stop a group's actor (the group is gone).
	groupFinished struct {
		name  string
		pid   *actor.PID
		reply chan int16 // a DeleteGroups waiting for its answer, or nil
	}
	groupsTick struct{}
	// leadershipCheck makes the manager look whether this node still coordinates.
	leadershipCheck struct{}
)

func newGroupManager(n *Node) actor.Producer {
	return func() actor.Actor {
		return &groupManager{n: n, log: n.log.With().Str("actor", "groups").Logger()}
	}
}

// groupActorPrefix names group actors; the group id is path-escaped so any id (Kafka
// allows '/' and even an empty one for offset storage) makes a valid actor name.
const groupActorPrefix = "group-"

func groupActorName(group string) string { return groupActorPrefix + url.PathEscape(group) }

func (m *groupManager) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.start(ctx)
	case *actor.Stopping, *actor.Restarting:
		if m.cancelTick != nil {
			m.cancelTick()
		}
		if m.cancelCheck != nil {
			m.cancelCheck()
		}
		if m.deadLetter != nil {
			m.n.system.EventStream.Unsubscribe(m.deadLetter)
		}
	case *ensureGroup:
		m.ensureThen(ctx, msg.name, msg.reply)
	case *actor.Terminated:
		name, ok := groupOfActor(msg.Who)
		waiting := m.restart[name]
		if !ok || len(waiting) == 0 {
			break
		}
		delete(m.restart, name)
		pid := m.ensure(ctx, name)
		for _, reply := range waiting {
			if reply != nil {
				reply <- pid
			}
		}
	case *groupFinished:
		if e := m.n.groupDir.get(msg.name); e != nil && e.pid.Equal(msg.pid) {
			m.n.groupDir.set(msg.name, nil)
		}
		if msg.reply != nil {
			msg.reply <- 0
		}
		// Every request routed to it is in its mailbox now (see groupDirectory.send);
		// the pill comes after them, and they are answered COORDINATOR_NOT_AVAILABLE.
		ctx.Poison(msg.pid)
	case *groupsTick:
		for _, pid := range ctx.Children() {
			ctx.Send(pid, &expireOffsets{})
		}
	case *leadershipCheck:
		m.checkLeadership(ctx)
	}
}

// checkLeadership follows group coordination as it moves with the Raft leadership: a
// node that becomes the coordinator starts every stored group from the store (the
// previous coordinator's latest state); one that stops being it stops its group actors,
// whose timers would otherwise act on groups another node now runs.
func (m *groupManager) checkLeadership(ctx actor.Context) {
	leading := m.n.coordinatorCode() == 0
	switch {
	case leading && !m.leading:
		stored, err := m.n.opts.Store.LoadGroups()
		if err != nil {
			m.log.Error().Err(err).Msg("load groups")
			return // try again at the next check
		}
		for _, rec := range stored {
			m.ensureThen(ctx, rec.Name, nil)
		}
		if len(stored) > 0 {
			m.log.Info().Int("groups", len(stored)).Msg("coordinating the stored consumer groups")
		}
	case !leading && m.leading:
		for _, pid := range ctx.Children() {
			if name, ok := groupOfActor(pid); ok {
				m.n.groupDir.set(name, nil)
			}
			ctx.Poison(pid)
		}
		m.log.Info().Msg("no longer the group coordinator; group actors stopped")
	}
	m.leading = leading
}

// watchLeadership sends leadershipCheck whenever this node's leadership differs from
// leading, the manager's last reading, and then each time it changes (the node signals
// every Raft status change), until the returned func is called. It starts from the
// manager's reading, not one of its own: leadership gained in between would otherwise
// be taken as the starting point and never signalled.
func (m *groupManager) watchLeadership(self *actor.PID, leading bool) func() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if err := m.n.waitFor(ctx, func() bool { return (m.n.coordinatorCode() == 0) != leading }); err != nil {
				return
			}
			leading = !leading
			m.n.root.Send(self, &leadershipCheck{})
		}
	}()
	return cancel
}

// groupOfActor is the group a child actor serves, from its name.
func groupOfActor(pid *actor.PID) (string, bool) {
	escaped, ok := strings.CutPrefix(pid.Id[strings.LastIndex(pid.Id, "/")+1:], groupActorPrefix)
	if !ok {
		return "", false
	}
	name, err := url.PathUnescape(escaped)
	return name, err == nil
}

func (m *groupManager) start(ctx actor.Context) {
	// A request sent to a group actor that stopped meanwhile would wait forever: answer
	// it with COORDINATOR_NOT_AVAILABLE so the client retries (and meets the new actor).
	m.deadLetter = m.n.system.EventStream.Subscribe(func(evt any) {
		if dl, ok := evt.(*actor.DeadLetterEvent); ok {
			if gm, ok := dl.Message.(groupMessage); ok {
				gm.fail(kerr.CoordinatorNotAvailable.Code)
			}
		}
	})
	// A restarted manager finds its children still running: adopt them.
	for _, pid := range ctx.Children() {
		if name, ok := groupOfActor(pid); ok && m.n.groupDir.get(name) == nil {
			m.n.groupDir.set(name, &groupEntry{pid: pid})
		}
	}
	m.leading = false
	m.checkLeadership(ctx)
	m.cancelCheck = m.watchLeadership(ctx.Self(), m.leading)
	m.cancelTick = m.n.scheduleRepeatedly(m.n.groupOpts.RetentionCheckInterval, ctx.Self(), &groupsTick{})
}

// ensureThen sends reply (if any) the group's actor, starting it if needed; if the
// group's previous actor is still stopping, once it has stopped.
func (m *groupManager) ensureThen(ctx actor.Context, name string, reply chan *actor.PID) {
	pid := m.ensure(ctx, name)
	if pid == nil && m.n.groupDir.get(name) == nil && childNamed(ctx, groupActorName(name)) {
		if m.restart == nil {
			m.restart = map[string][]chan *actor.PID{}
		}
		m.restart[name] = append(m.restart[name], reply)
		return
	}
	if reply != nil {
		reply <- pid
	}
}

// childNamed reports whether ctx has a child called name (running or stopping).
func childNamed(ctx actor.Context, name string) bool {
	for _, pid := range ctx.Children() {
		if pid.Id == ctx.Self().Id+"/"+name {
			return true
		}
	}
	return false
}

// ensure returns the group's actor, starting it if needed.
func (m *groupManager) ensure(ctx actor.Context, name string) *actor.PID {
	if e := m.n.groupDir.get(name); e != nil {
		return e.pid
	}
	e := &groupEntry{}
	pid, err := m.n.sp.spawn(ctx, "group", groupActorName(name), newGroupActor(m.n, name, e))
	if errors.Is(err, actor.ErrNameExists) {
		// The group's previous actor, poisoned when it finished (groupFinished), has not
		// stopped yet; ensureThen starts the new one once it has.
		m.log.Debug().Str("group", name).Msg("group actor still stopping; starting its successor when it has")
		return nil
	}
	if err != nil {
		m.log.Error().Err(err).Str("group", name).Msg("start group actor")
		return nil
	}
	e.pid = pid
	m.n.groupDir.set(name, e)
	return pid
}

// sendToGroup delivers msg to the group's actor. With create it starts one for a new
// group; without, only for a group the metadata store knows (a request can arrive before
// the manager started the stored groups). It returns 0 once msg is on its way, -1 when
// the group does not exist, and COORDINATOR_NOT_AVAILABLE (which clients retry) when its
// actor could not be started or reached: a request must not take that for a missing
// group (a commit to one is answered 0 with nothing to store, or a member's with
// ILLEGAL_GENERATION).
func (n *Node) sendToGroup(name string, create bool, msg any) int16 {
	for attempt := 0; attempt < 3; attempt++ {
		if n.groupDir.send(n.root, name, msg) {
			return 0
		}
		if !create && !n.groupStored(name) {
			return -1
		}
		reply := make(chan *actor.PID, 1)
		n.root.Send(n.pids.groups, &ensureGroup{name: name, reply: reply})
		select {
		case pid := <-reply:
			if pid == nil {
				return kerr.CoordinatorNotAvailable.Code
			}
		case <-time.After(10 * time.Second):
			return kerr.CoordinatorNotAvailable.Code
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// groupStored reports whether the metadata store holds a record or offsets of group.
func (n *Node) groupStored(name string) bool {
	rec, err := n.opts.Store.LoadGroup(name)
	if err == nil && rec != nil {
		return true
	}
	offsets, err := n.opts.Store.LoadOffsets(name)
	return err == nil && len(offsets) > 0
}
