package wire

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFrameClasses(t *testing.T) {
	for _, tc := range []struct{ size, class, capacity int }{
		{1, -1, 1},
		{64<<10 - 1, -1, 64<<10 - 1}, // small frames are not pooled
		{64 << 10, 16, 64 << 10},
		{64<<10 + 1, 17, 128 << 10},
		{3<<20 + 5, 22, 4 << 20},
		{1 << 30, 30, 1 << 30},
		{1<<30 + 1, -1, 1<<30 + 1},
	} {
		if got := frameClass(tc.size); got != tc.class {
			t.Errorf("frameClass(%d) = %d, want %d", tc.size, got, tc.class)
		}
		if got := frameCapacity(tc.size); got != tc.capacity {
			t.Errorf("frameCapacity(%d) = %d, want %d", tc.size, got, tc.capacity)
		}
	}
}

func TestFramePoolGivesOnlyFittingBuffers(t *testing.T) {
	var p framePool
	if b := p.get(100 << 10); b != nil {
		t.Fatalf("empty pool gave a buffer of %d bytes", len(b))
	}
	small := make([]byte, 100, 1000)
	p.put(small) // below the smallest class: dropped
	if b := p.get(100); b != nil {
		t.Fatalf("pool gave a buffer for a 100-byte frame")
	}
	// sync.Pool may drop what is put (always under the race detector, sometimes), so
	// put until one comes back; what comes back must fit.
	for range 100 {
		p.put(make([]byte, 0, 128<<10))
		if b := p.get(200 << 10); b != nil {
			t.Fatalf("a 128 KiB buffer served a 200 KiB frame")
		}
		if b := p.get(100 << 10); b != nil {
			if len(b) != 100<<10 || cap(b) != 128<<10 {
				t.Fatalf("got len %d cap %d, want len %d cap %d", len(b), cap(b), 100<<10, 128<<10)
			}
			return
		}
	}
	t.Fatal("the pool never returned a buffer it was given")
}

func TestReadFrameFromPoolReadsTheFrame(t *testing.T) {
	var p framePool
	body := bytes.Repeat([]byte{7}, 200<<10)
	stream := append([]byte{0, 3, 32, 0}, body...) // 200 KiB size prefix
	for range 100 {
		p.put(bytes.Repeat([]byte{1}, 256<<10)) // old contents must not show
		got, _, err := readFrame(bytes.NewReader(stream), 1<<20, &p)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("read %d bytes (%v), want the 200 KiB body", len(got), err)
		}
	}
	// A truncated frame is an error whether or not its buffer came from the pool.
	if _, _, err := readFrame(bytes.NewReader(stream[:1000]), 1<<20, &p); err == nil {
		t.Fatal("truncated frame read without error")
	}
}

// produceWithRecords is a Produce v9 request whose one partition's records are size
// bytes of fill.
func produceWithRecords(size int, fill byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, 1, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = bytes.Repeat([]byte{fill}, size)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// sendProduces pipelines n Produce requests of 300 KiB, request i filled with byte i,
// and checks every one is answered.
func sendProduces(t *testing.T, addr string, n int) {
	t.Helper()
	c := dialRaw(t, addr)
	go func() {
		for i := range n {
			c.send(int32(i), produceWithRecords(300<<10, byte(i)))
		}
	}()
	for i := range n {
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 9
		if corr := c.recv(resp); corr != int32(i) {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
}

func recordsOf(req *Request) []byte {
	return req.Body.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
}

// A handler that releases its frame gets intact bytes, and later requests reuse frames.
func TestReleasedFramesCarryLaterRequests(t *testing.T) {
	var (
		mu      sync.Mutex
		bad     []int32
		backing = map[*byte]bool{}
	)
	ts := startServer(t, ServerConfig{}, API{Key: 0, MinVersion: 3, MaxVersion: 9,
		Handle: func(_ context.Context, req *Request) (kmsg.Response, error) {
			recs := recordsOf(req)
			mu.Lock()
			if len(recs) != 300<<10 || bytes.Count(recs, []byte{byte(req.CorrelationID)}) != len(recs) {
				bad = append(bad, req.CorrelationID)
			}
			backing[&recs[0]] = true
			mu.Unlock()
			req.ReleaseFrame()
			return req.Body.ResponseKind(), nil
		}})
	const n = 200
	sendProduces(t, ts.addr, n)
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("requests %v arrived with wrong records", bad)
	}
	if len(backing) == n {
		t.Errorf("%d requests in %d distinct frames: released frames were never reused", n, len(backing))
	}
}

// Without ReleaseFrame a handler may keep slices of its request for as long as it likes.
func TestUnreleasedFramesAreNeverReused(t *testing.T) {
	var (
		mu   sync.Mutex
		kept = map[int32][]byte{}
	)
	ts := startServer(t, ServerConfig{}, API{Key: 0, MinVersion: 3, MaxVersion: 9,
		Handle: func(_ context.Context, req *Request) (kmsg.Response, error) {
			mu.Lock()
			kept[req.CorrelationID] = recordsOf(req)
			mu.Unlock()
			return req.Body.ResponseKind(), nil
		}})
	const n = 100
	sendProduces(t, ts.addr, n)
	mu.Lock()
	defer mu.Unlock()
	for corr, recs := range kept {
		if bytes.Count(recs, []byte{byte(corr)}) != len(recs) {
			t.Fatalf("records kept from request %d were overwritten", corr)
		}
	}
}
