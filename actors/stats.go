package actors

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// actorStats counts one actor's mailbox traffic. protoactor has no public mailbox-length
// call and its metrics provider leaks per spawned actor, so every actor gets a mailbox
// middleware that counts, and we keep the mailbox itself to read its queue length.
type actorStats struct {
	id, kind string
	started  time.Time

	posted    atomic.Uint64
	processed atomic.Uint64
	restarts  atomic.Uint64
	mailbox   atomic.Pointer[actor.Mailbox]

	mu        sync.Mutex
	lastPanic string
	lastStack string
	panicAt   time.Time
	backoff   time.Duration
}

func (s *actorStats) MailboxStarted()            {}
func (s *actorStats) MessagePosted(any)          { s.posted.Add(1) }
func (s *actorStats) MessageReceived(any)        { s.processed.Add(1) }
func (s *actorStats) MailboxEmpty()              {}
func (s *actorStats) setMailbox(m actor.Mailbox) { s.mailbox.Store(&m) }

// depth is the number of user messages waiting in the mailbox.
func (s *actorStats) depth() int {
	if m := s.mailbox.Load(); m != nil {
		return (*m).UserMessageCount()
	}
	return 0
}

// recordFailure counts a failure and returns how long to wait before restarting: nothing
// for an isolated failure, doubling from 10ms to 5s for failures in quick succession.
func (s *actorStats) recordFailure(reason any) time.Duration {
	s.restarts.Add(1)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.panicAt.IsZero() && now.Sub(s.panicAt) < 2*time.Second {
		s.backoff = min(max(2*s.backoff, 10*time.Millisecond), 5*time.Second)
	} else {
		s.backoff = 0
	}
	s.lastPanic = fmt.Sprint(reason)
	s.panicAt = now
	return s.backoff
}

// ActorStat is a snapshot of one actor for the debug endpoint.
type ActorStat struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	MailboxDepth int    `json:"mailbox_depth"`
	Posted       uint64 `json:"messages_posted"`
	Processed    uint64 `json:"messages_processed"`
	// MessagesPerSecond is the rate of processed messages over the last one to two
	// seconds (see rateSampler); 0 during the node's first second.
	MessagesPerSecond float64   `json:"messages_per_second"`
	Restarts          uint64    `json:"restarts"`
	LastPanic         string    `json:"last_panic,omitempty"`
	LastPanicAt       time.Time `json:"last_panic_at,omitzero"`
	Started           time.Time `json:"started"`
}

// registry knows every live actor's counters, by PID id, and keeps the counters of
// stopped actors summed by kind, so per-kind totals never go backwards when a partition
// actor stops (metrics counters must only grow).
type registry struct {
	mu      sync.RWMutex
	actors  map[string]*actorStats
	retired map[string]*KindStat
	rates   rateSampler
}

func newRegistry() *registry {
	return &registry{actors: map[string]*actorStats{}, retired: map[string]*KindStat{}}
}

// mailboxFor returns a mailbox producer that counts into s and remembers the mailbox.
func (r *registry) mailboxFor(s *actorStats) actor.MailboxProducer {
	unbounded := actor.Unbounded(s)
	return func() actor.Mailbox {
		m := unbounded()
		s.setMailbox(m)
		return m
	}
}

func (r *registry) add(s *actorStats) {
	r.mu.Lock()
	r.actors[s.id] = s
	r.mu.Unlock()
}

// remove forgets s. It compares the pointer, not just the id, so a late Stopped of an
// actor does not remove a newer actor that took the same name.
func (r *registry) remove(s *actorStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.actors[s.id] != s {
		return
	}
	delete(r.actors, s.id)
	k := r.retired[s.kind]
	if k == nil {
		k = &KindStat{Kind: s.kind}
		r.retired[s.kind] = k
	}
	k.Posted += s.posted.Load()
	k.Processed += s.processed.Load()
	k.Restarts += s.restarts.Load()
}

func (r *registry) get(id string) *actorStats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.actors[id]
}

// snapshot lists every actor, sorted by id.
func (r *registry) snapshot() []ActorStat {
	now := time.Now()
	base := r.rates.baseline(now)
	r.mu.RLock()
	out := make([]ActorStat, 0, len(r.actors))
	for _, s := range r.actors {
		s.mu.Lock()
		lp, at := s.lastPanic, s.panicAt
		s.mu.Unlock()
		st := ActorStat{
			ID: s.id, Kind: s.kind, MailboxDepth: s.depth(),
			Posted: s.posted.Load(), Processed: s.processed.Load(), Restarts: s.restarts.Load(),
			LastPanic: lp, LastPanicAt: at, Started: s.started,
		}
		st.MessagesPerSecond = base.rate(s.id, st.Processed, now)
		out = append(out, st)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// KindStat sums the actors of one kind. Posted, Processed and Restarts include actors
// that have stopped, so they only grow; Actors and MailboxDepth are the live ones'.
type KindStat struct {
	Kind         string `json:"kind"`
	Actors       int    `json:"actors"`
	MailboxDepth int    `json:"mailbox_depth"`
	Posted       uint64 `json:"messages_posted"`
	Processed    uint64 `json:"messages_processed"`
	Restarts     uint64 `json:"restarts"`
}

// kinds sums the registry by actor kind, sorted by kind.
func (r *registry) kinds() []KindStat {
	r.mu.RLock()
	byKind := make(map[string]*KindStat, len(r.retired)+8)
	for kind, k := range r.retired {
		c := *k
		c.Actors, c.MailboxDepth = 0, 0
		byKind[kind] = &c
	}
	for _, s := range r.actors {
		k := byKind[s.kind]
		if k == nil {
			k = &KindStat{Kind: s.kind}
			byKind[s.kind] = k
		}
		k.Actors++
		k.MailboxDepth += s.depth()
		k.Posted += s.posted.Load()
		k.Processed += s.processed.Load()
		k.Restarts += s.restarts.Load()
	}
	r.mu.RUnlock()
	out := make([]KindStat, 0, len(byKind))
	for _, k := range byKind {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// processedByID is the input of the rate sampler.
func (r *registry) processedByID() map[string]uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := make(map[string]uint64, len(r.actors))
	for id, s := range r.actors {
		m[id] = s.processed.Load()
	}
	return m
}
