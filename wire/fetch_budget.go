package wire

import (
	"context"
	"sync/atomic"
)

// fetchHold is one connection's account of the server's fetch budget, which bounds the
// record bytes that Fetch handlers have read and whose responses are not yet written,
// over every connection. Without it each connection could hold MaxInFlightPerConn
// responses of up to maxFetchBytes: a client pipelining Fetches of a backlogged topic and
// reading the answers slowly made the node hold gigabytes. held is what the connection's
// requests hold now, so that whatever is left when the connection ends (a response never
// written, a read cut short) goes back with it.
type fetchHold struct {
	budget *byteBudget
	held   atomic.Int64
}

// releaseAll gives back everything the connection's requests still hold. Call it only
// once no handler of the connection runs and no response of it is being written.
func (h *fetchHold) releaseAll() { h.budget.give(h.held.Swap(0)) }

// Reserve takes n bytes of the server's fetch budget for records the response will carry,
// waiting until they are free or ctx ends. They go back with Unreserve, or all at once
// when the response has been written or the connection ends. Outside a server (a handler
// called directly) there is no budget and Reserve always succeeds.
func (r *Request) Reserve(ctx context.Context, n int) error {
	if r.hold == nil || n <= 0 {
		return nil
	}
	c, err := r.hold.budget.take(ctx, n)
	if err != nil {
		return err
	}
	r.hold.held.Add(c)
	r.reserved += c
	return nil
}

// ReserveRead charges n bytes already read beyond what was reserved (a first batch
// larger than the read limit, which Kafka returns whole), without waiting.
func (r *Request) ReserveRead(n int) {
	if r.hold == nil || n <= 0 {
		return
	}
	r.hold.budget.takeNow(int64(n))
	r.hold.held.Add(int64(n))
	r.reserved += int64(n)
}

// Unreserve gives back up to n of the bytes this request reserved.
func (r *Request) Unreserve(n int) {
	if r.hold == nil {
		return
	}
	c := min(int64(n), r.reserved)
	if c <= 0 {
		return
	}
	r.reserved -= c
	r.hold.held.Add(-c)
	r.hold.budget.give(c)
}
