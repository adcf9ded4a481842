package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// frameChunk is how much of a frame body is allocated ahead of the bytes actually
// arriving. A peer that claims a large size and then sends nothing costs us at most
// this much, instead of the claimed size.
const frameChunk = 1 << 20

// errFrameSize reports a size prefix outside (0, MaxRequestBytes].
type errFrameSize struct{ size, max int32 }

func (e errFrameSize) Error() string {
	return fmt.Sprintf("request size %d outside 1..%d bytes", e.size, e.max)
}

// readFrame reads one size-prefixed frame and returns its body (without the prefix).
// The size is checked before anything is allocated. started reports whether any byte of
// the frame was consumed, so a caller can tell "idle between frames" from "stalled
// mid-frame". The body comes from pool when it holds a fitting buffer (pool may be nil);
// otherwise it is a fresh slice. Decoded requests alias it.
func readFrame(r io.Reader, maxSize int32, pool *framePool) (body []byte, started bool, err error) {
	body, _, started, err = readAdmittedFrame(r, maxSize, pool, nil)
	return body, started, err
}

// readAdmittedFrame is readFrame that, once the size is known and before the body is
// read, takes room for the request from admit (nil: no bound), waiting for it, and
// returns how much it took (admitted). A frame that then fails to arrive hands its room
// back; a frame returned holds it until the caller releases admitted.
//
// The room is the frame's size, except for a large Fetch (weighRequest), whose handling
// holds many times its size: its API key is peeked from r when r is a bufio.Reader.
func readAdmittedFrame(r io.Reader, maxSize int32, pool *framePool, admit *admission) (body []byte, admitted int, started bool, err error) {
	var prefix [4]byte
	n, err := io.ReadFull(r, prefix[:])
	if err != nil {
		return nil, 0, n > 0, err
	}
	size := int32(binary.BigEndian.Uint32(prefix[:]))
	if size <= 0 || size > maxSize {
		return nil, 0, true, errFrameSize{size: size, max: maxSize}
	}
	if admit != nil {
		admitted = int(size)
		if br, ok := r.(*bufio.Reader); ok && size >= 2 {
			if key, err := br.Peek(2); err == nil {
				admitted = weighRequest(int16(binary.BigEndian.Uint16(key)), int(size))
			}
		}
		if limit := maxWeighedRequest(admit.budget.capacity); admitted > int(size) && int64(admitted) > limit {
			return nil, 0, true, errTooLargeToHandle{api: "fetch", size: size, weight: admitted, limit: limit}
		}
		if err := admit.budget.acquire(admit.ctx, admitted); err != nil {
			return nil, 0, true, fmt.Errorf("wait to read a %d-byte request: %w", size, err)
		}
	}
	body, err = readBody(r, int(size), pool)
	if err != nil {
		if admit != nil {
			admit.budget.release(admitted)
		}
		return nil, 0, true, fmt.Errorf("read %d-byte request: %w", size, err)
	}
	if admit != nil && int(size) >= weighFrom {
		if weight := weighProduce(body); weight > admitted {
			// Its room, now that its partitions are counted: given back and taken again
			// whole, since two takes that each fit could together exceed the budget and
			// wait for ever.
			admit.budget.release(admitted)
			if limit := maxWeighedRequest(admit.budget.capacity); int64(weight) > limit {
				return nil, 0, true, errTooLargeToHandle{api: "produce", size: size, weight: weight, limit: limit}
			}
			if err := admit.budget.acquire(admit.ctx, weight); err != nil {
				return nil, 0, true, fmt.Errorf("wait to handle a %d-byte request: %w", size, err)
			}
			admitted = weight
		}
	}
	return body, admitted, true, nil
}

// weighRequest is the room a request of size bytes takes in the server's request budget
// while it is handled. A Fetch's handling holds about 24 times the bytes of the
// partitions it names (decoded request, reads, response: a 33 MB Fetch of a million
// partitions peaked at 800 MB), so a large one counts as that: a few of them sent at
// once then wait for each other rather than take the node's memory together. Small
// Fetches, every consumer's, count as their size: each long poll holds its room until
// it is answered.
func weighRequest(key int16, size int) int {
	const fetchKey, factor = 1, 24
	if key == fetchKey && size >= weighFrom {
		return size * factor
	}
	return size
}

// maxWeighedRequest is the most a weighed request (a large Fetch) may count, given the
// request budget's capacity: twice the budget, half the memory the node found when the
// budget was left to it. A larger one is refused before its body is read. Admitted alone,
// as requests larger than the budget are, one 99 MB Fetch naming three million
// partitions made the node use 2.6 GB, and the kernel killed it in a container limited to
// 300 MiB.
func maxWeighedRequest(capacity int64) int64 { return 2 * capacity }

// errTooLargeToHandle reports a request whose handling would hold more than
// maxWeighedRequest.
type errTooLargeToHandle struct {
	api    string
	size   int32
	weight int
	limit  int64
}

func (e errTooLargeToHandle) Error() string {
	return fmt.Sprintf("%s request of %d bytes names too many partitions: its handling would hold about %d bytes, more than the %d allowed (twice queued.max.request.bytes)",
		e.api, e.size, e.weight, e.limit)
}

// weighFrom is the size from which a request may count for more than its size.
const weighFrom = 64 << 10

// admission is where a connection's reader takes room for the requests it reads.
type admission struct {
	ctx    context.Context // the connection's: closing it stops the wait
	budget *byteBudget
}

// readBody reads exactly size bytes. A pooled buffer is memory already held, so it is
// used at once; a fresh one grows only as data arrives, so a peer that announces a large
// frame and stalls costs at most twice what it sent. Fresh buffers get the capacity of
// their pool class, so that they can be reused.
func readBody(r io.Reader, size int, pool *framePool) ([]byte, error) {
	if body := pool.get(size); body != nil {
		if _, err := io.ReadFull(r, body); err != nil {
			pool.put(body)
			return nil, err
		}
		return body, nil
	}
	capacity := frameCapacity(size)
	if size <= frameChunk {
		body := make([]byte, size, capacity)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	body := make([]byte, 0, frameChunk)
	for len(body) < size {
		if len(body) == cap(body) {
			grown := make([]byte, len(body), min(2*cap(body), capacity))
			copy(grown, body)
			body = grown
		}
		n, err := io.ReadFull(r, body[len(body):min(cap(body), size)])
		body = body[:len(body)+n]
		if err != nil {
			return nil, err
		}
	}
	return body, nil
}

// appendResponse appends one response frame: size, correlation id, the response header's
// empty tagged-field section when the response is flexible, then the body. ApiVersions
// responses always use header v0 so that a client that sent a version we do not know can
// still read the answer (KIP-511).
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// frameSizeHint is an upper bound of the frame appendResponse writes for resp, for the
// responses whose size is worth knowing ahead (those carrying records); 0 for the rest.
func frameSizeHint(resp kmsg.Response) int {
	if f, ok := resp.(*kmsg.FetchResponse); ok {
		return 16 + fetchResponseSizeHint(f) // size, correlation id, header tags
	}
	return 0
}
