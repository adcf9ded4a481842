package wire

import (
	"math/bits"
	"sync"
)

// framePool recycles request frames. A frame can only go back once nothing refers to its
// bytes, which the server cannot know: decoded requests alias them. So a handler hands
// its frame back explicitly (Request.ReleaseFrame) when it is done with the request's
// bytes; Produce does, once every partition has copied its records into its log. Without
// the pool every produce request was a fresh allocation the size of the request (several
// MB at full speed), zeroed and then overwritten, and the garbage collector ran dozens of
// times a second for it.
//
// Buffers live in power-of-two size classes; a buffer of capacity c sits in class
// floor(log2 c) and serves frames up to 2^class bytes, so every buffer taken from a
// class fits. sync.Pool drops what is not reused within two garbage collections.
type framePool struct {
	classes [maxFrameClass - minFrameClass + 1]sync.Pool // *[]byte
}

const (
	minFrameClass = 16 // 64 KiB: smaller frames are cheap to allocate
	maxFrameClass = 30 // 1 GiB, above any socket.request.max.bytes worth pooling
)

// frameClass is the smallest class whose buffers all hold size bytes, or -1 when frames
// of this size are not pooled.
func frameClass(size int) int {
	c := bits.Len(uint(size - 1)) // ceil(log2 size)
	if size < 1<<minFrameClass || c > maxFrameClass {
		return -1
	}
	return c
}

// frameCapacity is the capacity to give a new frame of size bytes so that it can be
// pooled: its class's size, or size itself when frames that big are not pooled.
func frameCapacity(size int) int {
	if c := frameClass(size); c >= 0 {
		return 1 << c
	}
	return size
}

// get returns a pooled buffer of length size, or nil when there is none.
func (p *framePool) get(size int) []byte {
	c := frameClass(size)
	if p == nil || c < 0 {
		return nil
	}
	if b, ok := p.classes[c-minFrameClass].Get().(*[]byte); ok {
		return (*b)[:size]
	}
	return nil
}

// put keeps b for a later frame. The caller must not use b afterwards.
func (p *framePool) put(b []byte) {
	c := bits.Len(uint(cap(b))) - 1 // floor(log2 cap)
	if p == nil || c < minFrameClass || c > maxFrameClass {
		return
	}
	b = b[:0]
	p.classes[c-minFrameClass].Put(&b)
}
