package wire

import (
	"context"
	"sync/atomic"
)

// maxUnwrittenPerConn bounds the encoded answers of LargeAnswers APIs that a connection
// holds and its client has not read yet. Past it such a request waits, before it is
// handled, for the client to read: a client that pipelines them and never reads the
// answers (Metadata of a large cluster, 130 KiB each, 64 at a time on each of 200
// connections: 3.8 GB of resident memory) holds the node to this much a connection
// instead (the same: about 300 MiB in all). Kafka goes further and reads a connection's
// next request only once its last response is sent.
const maxUnwrittenPerConn = 256 << 10

// unwrittenResponses counts the bytes of a connection's LargeAnswers responses that are
// encoded and not yet written.
//
// Those requests are handled one after the other in request order (each waits for the one
// before it), and each waits for room before it starts. Since every answer counted is
// then ahead of the waiting request in write order, the writer can always drain them if
// the client reads: a request never waits on room only a later answer holds. The reader
// itself never waits here, so it still sees a client hang up.
type unwrittenResponses struct {
	bytes atomic.Int64
	wrote chan struct{} // a counted response was written; room may have opened
}

func newUnwrittenResponses() *unwrittenResponses {
	return &unwrittenResponses{wrote: make(chan struct{}, 1)}
}

func (u *unwrittenResponses) add(n int) { u.bytes.Add(int64(n)) }

// written gives back n bytes and wakes a request waiting for room.
func (u *unwrittenResponses) written(n int) {
	if n == 0 {
		return
	}
	u.bytes.Add(-int64(n))
	select {
	case u.wrote <- struct{}{}:
	default:
	}
}

// waitTurn waits for the previous LargeAnswers request (after; nil for none) to be
// handled and then for room; false if ctx ends first.
func (u *unwrittenResponses) waitTurn(ctx context.Context, after <-chan struct{}, limit int64) bool {
	if after != nil {
		select {
		case <-after:
		case <-ctx.Done():
			return false
		}
	}
	for u.bytes.Load() > limit {
		select {
		case <-u.wrote:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
