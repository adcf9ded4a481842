package wire

import (
	"context"
	"sync"
)

// byteBudget bounds bytes the whole server holds at once, summed over connections. The
// server keeps two: request bytes read and not yet handled (every connection may
// pipeline MaxInFlightPerConn requests of up to MaxRequestBytes, so without a shared
// bound a few clients pipelining large produces could make the node hold gigabytes;
// Kafka bounds its request queue with queued.max.requests for the same reason), and
// records read for Fetch responses not yet written (see fetchHold). A reader that finds
// the request budget spent waits before reading the body, which pushes back on its
// client through TCP; it is admitted when answered requests hand their bytes back.
type byteBudget struct {
	mu       sync.Mutex
	capacity int64
	free     int64
	waiting  int // callers waiting for room, for tests and the curious
	// released is closed and replaced whenever bytes come back, waking waiters to look
	// again.
	released chan struct{}
}

func newByteBudget(capacity int64) *byteBudget {
	return &byteBudget{capacity: capacity, free: capacity, released: make(chan struct{})}
}

// charge is what a request of n bytes takes from the budget: a request larger than the
// whole budget takes all of it, so it is admitted alone rather than never.
func (b *byteBudget) charge(n int) int64 { return min(int64(n), b.capacity) }

// acquire takes n bytes, waiting until they are free or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int) error {
	_, err := b.take(ctx, n)
	return err
}

// release gives back n bytes taken by acquire.
func (b *byteBudget) release(n int) { b.give(b.charge(n)) }

// take is acquire for callers that give the bytes back in parts: it returns what it
// charged, which the parts given to give must add up to.
func (b *byteBudget) take(ctx context.Context, n int) (int64, error) {
	c := b.charge(n)
	return b.takeWhen(ctx, func(free int64) (int64, bool) { return c, free >= c })
}

// takeWhen takes what grant offers, waiting for bytes to come back while it offers
// nothing (ok false) until ctx ends. grant runs under the budget's lock with the bytes
// free now; whatever else it reads under that lock is consistent with them.
func (b *byteBudget) takeWhen(ctx context.Context, grant func(free int64) (c int64, ok bool)) (int64, error) {
	for {
		b.mu.Lock()
		if c, ok := grant(b.free); ok {
			b.free -= c
			b.mu.Unlock()
			return c, nil
		}
		released := b.released
		b.waiting++
		b.mu.Unlock()
		var err error
		select {
		case <-released:
		case <-ctx.Done():
			err = ctx.Err()
		}
		b.mu.Lock()
		b.waiting--
		b.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
}

// takeNow charges c bytes that are already in memory, without waiting: free may go below
// zero, and then nobody is admitted until enough comes back.
func (b *byteBudget) takeNow(c int64) {
	b.mu.Lock()
	b.free -= c
	b.mu.Unlock()
}

// give hands back c bytes charged by take or takeNow.
func (b *byteBudget) give(c int64) {
	if c <= 0 {
		return
	}
	b.mu.Lock()
	b.free += c
	if b.waiting > 0 { // a waiter took the channel under mu, so none is missed
		close(b.released)
		b.released = make(chan struct{})
	}
	b.mu.Unlock()
}

// state is how many bytes are held now, and how many callers wait for room.
func (b *byteBudget) state() (held int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.capacity - b.free, b.waiting
}

// BudgetUse is what one of the server's byte budgets holds now.
type BudgetUse struct {
	Held, Capacity int64
	Waiting        int // readers or fetches waiting for room
}

// Budgets reports the request budget (queued.max.request.bytes) and the fetch budget
// (queued.max.fetch.bytes): what they hold and who waits for room. Held bytes are client
// data in the node's memory, so this is where a memory-hungry load shows.
func (s *Server) Budgets() (request, fetch BudgetUse) {
	held, waiting := s.budget.state()
	request = BudgetUse{Held: held, Capacity: s.budget.capacity, Waiting: waiting}
	held, waiting = s.fetchBudget.state()
	fetch = BudgetUse{Held: held, Capacity: s.fetchBudget.capacity, Waiting: waiting}
	return request, fetch
}
