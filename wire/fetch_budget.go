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

// minFetchRoom is the least a Fetch waits for when the fetch budget is short: a batch
// of a typical size (Kafka's message.max.bytes is about 1 MiB). Granting whatever
// crumbs were free would make each Fetch read a whole first batch past its share (a
// read returns at least one, KIP-74), and many such Fetches could overrun the budget.
const minFetchRoom = 1 << 20

// share is the most a connection's Fetches hold of the budget together: one response's
// worth (Kafka reads a connection's next request only once its last response is sent,
// SocketServer's Processor muting the channel in between), and no more than a quarter
// of the budget, so that a client that stops reading its answers with Fetches in
// flight (a hung consumer) leaves room for everyone else.
func (h *fetchHold) share() int64 { return min(maxFetchBytes, h.budget.capacity/4) }

// Reserve takes up to n bytes of the server's fetch budget for records the response will
// carry and returns how many it took: n, or less when the budget or the connection's
// share of it (see fetchHold.share) has less room, as long as that is at least
// minFetchRoom (or n); it waits while it is not, until ctx ends. The caller reads no
// more than it took. The bytes go back with Unreserve, or all at once when the response
// has been written or the connection ends. Outside a server (a handler called directly)
// there is no budget and Reserve always takes n.
func (r *Request) Reserve(ctx context.Context, n int) (int, error) {
	if r.hold == nil || n <= 0 {
		return max(n, 0), nil
	}
	h := r.hold
	want := int64(n)
	floor := min(want, minFetchRoom, h.share())
	c, err := h.budget.takeWhen(ctx, func(free int64) (int64, bool) {
		c := min(want, free, h.share()-h.held.Load())
		if c < floor {
			return 0, false
		}
		// Counted under the budget's lock, so that the connection's concurrent Fetches
		// see each other's share.
		h.held.Add(c)
		return c, true
	})
	if err != nil {
		return 0, err
	}
	r.reserved += c
	return int(c), nil
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
