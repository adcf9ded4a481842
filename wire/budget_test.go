package wire

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestByteBudget(t *testing.T) {
	b := newByteBudget(100)
	ctx := context.Background()
	if err := b.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	// 60 + 60 does not fit: the second waits until the first is released.
	got := make(chan error, 1)
	go func() { got <- b.acquire(ctx, 60) }()
	waitFor(t, "the second acquire to wait", func() bool { _, w := b.state(); return w == 1 })
	b.release(60)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A request larger than the whole budget is admitted alone, once it is all free.
	go func() { got <- b.acquire(ctx, 1000) }()
	waitFor(t, "the oversized acquire to wait", func() bool { _, w := b.state(); return w == 1 })
	b.release(60)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if held, _ := b.state(); held != 100 {
		t.Fatalf("an oversized request holds %d, want the whole budget", held)
	}
	// A closed connection stops waiting.
	cctx, cancel := context.WithCancel(ctx)
	go func() { got <- b.acquire(cctx, 1) }()
	waitFor(t, "the acquire to wait", func() bool { _, w := b.state(); return w == 1 })
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire after its context ended: %v", err)
	}
	b.release(1000)
	if held, waiting := b.state(); held != 0 || waiting != 0 {
		t.Fatalf("after every release: %d held, %d waiting", held, waiting)
	}
}

// The request bytes the server holds are bounded over all connections: a connection
// whose request does not fit waits, unread, until an earlier request is handled, and
// requests abandoned by a client that went away give their bytes back.
func TestServerBoundsRequestBytesAcrossConnections(t *testing.T) {
	g := newGate()
	api := API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		if err := g.wait(ctx, req.CorrelationID); err != nil {
			return nil, err
		}
		return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
	}}
	ts := startServer(t, ServerConfig{MaxQueuedRequestBytes: 64 << 10}, api)
	// A Metadata request of about 40 KiB: two do not fit in 64 KiB.
	big := func() kmsg.Request {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 9
		for i := range 400 {
			rt := kmsg.NewMetadataRequestTopic()
			name := strings.Repeat("t", 90) + string(rune('a'+i%26))
			rt.Topic = &name
			req.Topics = append(req.Topics, rt)
		}
		return req
	}
	first, second := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	first.send(1, big())
	if corr := nextStarted(t, g); corr != 1 {
		t.Fatalf("handler %d started first", corr)
	}
	second.send(2, big())
	waitFor(t, "the second connection to wait for room", func() bool { _, w := ts.srv.budget.state(); return w == 1 })
	select {
	case corr := <-g.started:
		t.Fatalf("request %d was handled while the first held the budget", corr)
	default:
	}
	g.open(1)
	first.recv(metadataResponse())
	if corr := nextStarted(t, g); corr != 2 {
		t.Fatalf("handler %d started, want 2", corr)
	}

	// A client that leaves with its request unread still has it handled (its bytes
	// arrived) and the bytes come back; nothing is left held or waiting.
	third := dialRaw(t, ts.addr)
	third.send(3, big())
	waitFor(t, "the third connection to wait for room", func() bool { _, w := ts.srv.budget.state(); return w == 1 })
	third.nc.Close()
	g.open(2)
	second.recv(metadataResponse())
	if corr := nextStarted(t, g); corr != 3 {
		t.Fatalf("handler %d started, want 3", corr)
	}
	g.open(3)
	waitFor(t, "every request's bytes to come back", func() bool {
		held, waiting := ts.srv.budget.state()
		return held == 0 && waiting == 0
	})
}

// nextStarted is the correlation id of the next handler to start.
func nextStarted(t *testing.T, g *gate) int32 {
	t.Helper()
	select {
	case corr := <-g.started:
		return corr
	case <-time.After(testDeadline):
		t.Fatal("no handler started")
		return -1
	}
}

func metadataResponse() *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 9
	return resp
}

// A consumer that pipelines Fetches of a backlogged topic and does not read the answers
// holds their records in the node until they are written. The fetch budget bounds that
// across connections, and a connection's Fetches together hold at most a quarter of it:
// another consumer's Fetch gets records at once, as many as there is room for, rather
// than wait for all it asked for (it used to get none for as long as the first consumer
// held the budget); closing connections gives everything back.
func TestServerBoundsFetchedBytesAcrossConnections(t *testing.T) {
	const partitions = 8 // backlog (1 MiB) each: an 8 MiB response
	const budget, share = 32 << 20, 8 << 20
	h := NewHandlers(newBacklog(partitions), BrokerConfig{NodeID: 1}, zerolog.Nop())
	ts := startServer(t, ServerConfig{MaxQueuedFetchBytes: budget}, h.APIs()...)
	fetch := func(maxWaitMs int32) *kmsg.FetchRequest {
		req := backlogFetch(partitions, backlog, 50<<20)
		req.MinBytes, req.MaxWaitMillis = 1, maxWaitMs
		return req
	}
	recordBytes := func(conn *rawConn) int {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		conn.recv(resp)
		n := 0
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.HighWatermark != 1000 {
				t.Fatalf("partition %d: error %d, high watermark %d", p.Partition, p.ErrorCode, p.HighWatermark)
			}
			n += len(p.RecordBatches)
		}
		return n
	}

	// The slow consumer's socket buffers hold far less than its 8 MiB answers, of which it
	// pipelines four.
	slow := dialRaw(t, ts.addr)
	if err := slow.nc.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	for corr := range int32(4) {
		slow.send(corr, fetch(0))
	}
	waitFor(t, "the slow consumer to hold its share of the budget, and no more", func() bool {
		held, waiting := ts.srv.fetchBudget.state()
		return held == share && waiting == 0
	})

	other := dialRaw(t, ts.addr)
	other.send(10, fetch(60_000))
	if n := recordBytes(other); n != share {
		t.Fatalf("a second consumer got %d bytes of records while the first held %d of the %d byte budget; want %d", n, share, budget, share)
	}

	got := 0
	for range 4 {
		got += recordBytes(slow)
	}
	if got != share {
		t.Fatalf("the slow consumer's four answers carried %d bytes of records, want its share, %d", got, share)
	}

	// A consumer that leaves with its answer unread gives its bytes back too.
	slow.send(20, fetch(0))
	waitFor(t, "the slow consumer's records to be held again", func() bool {
		held, _ := ts.srv.fetchBudget.state()
		return held == share
	})
	slow.nc.Close()
	other.nc.Close()
	waitFor(t, "every fetched byte to come back", func() bool {
		held, waiting := ts.srv.fetchBudget.state()
		return held == 0 && waiting == 0
	})
}

// A large Fetch takes many times its size in the request budget (weighRequest: its
// handling holds that much memory), so a Fetch naming thousands of partitions holds the
// whole of a small budget and the next request waits for it; a small Fetch counts as
// its size. Unweighed, several 33 MB Fetches of a million partitions each took the node
// to gigabytes at once.
func TestLargeFetchesAreWeighed(t *testing.T) {
	g := newGate()
	fetch := API{Key: 1, MinVersion: 4, MaxVersion: 12, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		if err := g.wait(ctx, req.CorrelationID); err != nil {
			return nil, err
		}
		return req.Body.(*kmsg.FetchRequest).ResponseKind(), nil
	}}
	meta := API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
	}}
	ts := startServer(t, ServerConfig{MaxQueuedRequestBytes: 4 << 20}, fetch, meta)
	// About 200 KB: 6,000 partitions at 33 bytes each. Weighed, more than the 4 MiB budget.
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID = 12, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "t"
	for p := range 6000 {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = int32(p)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	if size := len(req.AppendTo(nil)); size < 64<<10 || size*24 < 4<<20 {
		t.Fatalf("test request of %d bytes is not large enough to be weighed past the budget", size)
	}

	fetcher, other := dialRaw(t, ts.addr), dialRaw(t, ts.addr)
	fetcher.send(1, req)
	if corr := nextStarted(t, g); corr != 1 {
		t.Fatalf("handler %d started first", corr)
	}
	small := kmsg.NewPtrMetadataRequest()
	small.Version = 9
	other.send(2, small)
	waitFor(t, "a small request to wait for the large Fetch's room", func() bool { _, w := ts.srv.budget.state(); return w == 1 })
	g.open(1)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	resp.Version = 12
	fetcher.recv(resp)
	other.recv(metadataResponse())
	waitFor(t, "every request's room to come back", func() bool {
		held, waiting := ts.srv.budget.state()
		return held == 0 && waiting == 0
	})
}

// A Fetch whose handling would hold more than twice the request budget (one naming
// millions of partitions) is refused before its body is read, its connection closed as
// for a request over socket.request.max.bytes, and other clients are served. It used to
// be admitted alone: one 99 MB Fetch made the node use 2.6 GB, and in a container
// limited to 300 MiB the kernel killed it.
func TestFetchTooLargeToHandleIsRefused(t *testing.T) {
	handled := make(chan int32, 2)
	fetch := API{Key: 1, MinVersion: 4, MaxVersion: 12, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		handled <- req.CorrelationID
		return req.Body.(*kmsg.FetchRequest).ResponseKind(), nil
	}}
	ts := startServer(t, ServerConfig{MaxQueuedRequestBytes: 1 << 20}, fetch)
	fetchOf := func(partitions int) *kmsg.FetchRequest {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID = 12, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "t"
		for p := range partitions {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = int32(p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = []kmsg.FetchRequestTopic{rt}
		return req
	}
	// About 200 KB: weighed, 4.8 MB, more than twice the 1 MiB budget.
	huge := fetchOf(6000)
	if size := len(huge.AppendTo(nil)); int64(weighRequest(1, size)) <= maxWeighedRequest(1<<20) {
		t.Fatalf("test request of %d bytes is not large enough to be refused", size)
	}
	// A Fetch weighed within the limit (about 1.5 MB: more than the budget, admitted
	// alone) is handled, on another connection.
	ok := fetchOf(2000)
	resp := ok.ResponseKind().(*kmsg.FetchResponse)
	resp.Version = 12
	refusedAndOthersServed(t, ts, handled, huge, ok, resp)
}

// refusedAndOthersServed sends huge, which the server must refuse by closing its
// connection unanswered, then fine on another connection, which it must handle (the
// only request handled) and answer as resp; every byte of room goes back.
func refusedAndOthersServed(t *testing.T, ts *testServer, handled <-chan int32, huge, fine kmsg.Request, resp kmsg.Response) {
	t.Helper()
	refused := dialRaw(t, ts.addr)
	refused.send(1, huge)
	if _, _, err := refused.recvFrame(); err == nil {
		t.Fatalf("the server answered a %T too large to handle; want the connection closed", huge)
	}
	other := dialRaw(t, ts.addr)
	other.send(2, fine)
	other.recv(resp)
	if corr := <-handled; corr != 2 {
		t.Fatalf("handled the request with correlation id %d, want only 2", corr)
	}
	waitFor(t, "every request's room to come back", func() bool {
		held, waiting := ts.srv.budget.state()
		return held == 0 && waiting == 0
	})
}
