package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestKgoClientNegotiatesAndGetsMetadata(t *testing.T) {
	seen := make(chan *Request, 16)
	ts := startServer(t, ServerConfig{}, metadataAPI(seen))
	host, port := splitHostPort(t, ts.addr)

	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr), kgo.ClientID("kgo-wire-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	mreq := metadataRequest(kmsg.NewPtrMetadataRequest().MaxVersion(), "orders")
	kresp, err := cl.Request(ctx, mreq)
	if err != nil {
		t.Fatalf("metadata request: %v", err)
	}
	resp := kresp.(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != host || resp.Brokers[0].Port != port {
		t.Fatalf("brokers = %+v, want one at %s:%d", resp.Brokers, host, port)
	}
	if len(resp.Topics) != 1 || *resp.Topics[0].Topic != "orders" || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("topics = %+v, want orders with UNKNOWN_TOPIC_OR_PARTITION", resp.Topics)
	}

	// kgo must have downgraded its request to the newest Metadata we advertise.
	var got *Request
	select {
	case got = <-seen:
	default:
		t.Fatal("the Metadata handler never ran")
	}
	if got.Version != 12 || got.ClientID != "kgo-wire-test" || got.Conn.ID == 0 || got.Conn.RemoteAddr == "" {
		t.Fatalf("handler saw version %d client %q conn %+v, want v12 from kgo-wire-test", got.Version, got.ClientID, got.Conn)
	}

	// kgo opens with ApiVersions v5, which we answer per KIP-511, then retries at v4.
	var apiVersions []doneRecord
	for _, r := range ts.obs.records() {
		if r.key == apiVersionsKey {
			apiVersions = append(apiVersions, r)
		}
	}
	if len(apiVersions) < 2 || apiVersions[0].version != 5 || apiVersions[0].errCode != kerr.UnsupportedVersion.Code ||
		apiVersions[1].version != 4 || apiVersions[1].errCode != 0 {
		t.Fatalf("ApiVersions exchanges = %+v, want v5 (UNSUPPORTED_VERSION) then v4 (ok)", apiVersions)
	}
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, ServerConfig{MaxRequestBytes: 1024})

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c := dialRaw(t, ts.addr)
	c.sendRaw(binary.BigEndian.AppendUint32(nil, 1<<30)) // claims 1 GiB
	c.expectClosed()
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("server allocated %d bytes for a rejected 1 GiB size prefix", grew)
	}

	for _, size := range []uint32{0, 0xffffffff, 1025} {
		c := dialRaw(t, ts.addr)
		c.sendRaw(binary.BigEndian.AppendUint32(nil, size))
		c.expectClosed()
	}
	checkServes(t, ts.addr)
	if !strings.Contains(ts.logs.String(), "bad request size") {
		t.Fatalf("rejected size not logged; logs:\n%s", ts.logs)
	}
}

func TestClaimedSizeIsNotAllocatedBeforeTheBytesArrive(t *testing.T) {
	ts := startServer(t, ServerConfig{MaxRequestBytes: 512 << 20})

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c := dialRaw(t, ts.addr)
	frame := binary.BigEndian.AppendUint32(nil, 500<<20) // allowed, but never sent
	frame = append(frame, make([]byte, 100)...)
	c.sendRaw(frame)
	c.nc.(*net.TCPConn).CloseWrite()
	c.expectClosed()
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("server allocated %d bytes for a 500 MiB claim backed by 100 bytes", grew)
	}
	checkServes(t, ts.addr)
}

func TestGarbageClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, ServerConfig{}, metadataAPI(nil))

	good := appendRequest(nil, 1, nil, metadataRequest(12, "a"))
	for name, frame := range map[string][]byte{
		"short header":        {0, 0, 0, 3, 0, 3, 0},
		"client id too long":  {0, 0, 0, 10, 0, 3, 0, 12, 0, 0, 0, 1, 0x7f, 0xff},
		"truncated body":      good[:len(good)-3],
		"bad header tag size": {0, 0, 0, 13, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 1, 0, 9},
	} {
		t.Run(name, func(t *testing.T) {
			binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
			c := dialRaw(t, ts.addr)
			c.sendRaw(frame)
			c.expectClosed()
			checkServes(t, ts.addr)
		})
	}
	if !strings.Contains(ts.logs.String(), "undecodable request") {
		t.Fatalf("undecodable requests not logged; logs:\n%s", ts.logs)
	}
}

func TestUnknownKeyOrVersionClosesConnection(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	for name, hdr := range map[string][2]int16{
		"key unknown to kmsg":          {1000, 0},
		"negative key":                 {-3, 0},
		"version beyond kmsg":          {3, 99},
		"negative version":             {3, -1},
		"negative ApiVersions version": {18, -1},
	} {
		t.Run(name, func(t *testing.T) {
			frame := []byte{0, 0, 0, 0}
			frame = binary.BigEndian.AppendUint16(frame, uint16(hdr[0]))
			frame = binary.BigEndian.AppendUint16(frame, uint16(hdr[1]))
			frame = append(frame, 0, 0, 0, 5, 0xff, 0xff, 0, 0, 0, 0)
			binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
			c := dialRaw(t, ts.addr)
			c.sendRaw(frame)
			c.expectClosed()
			checkServes(t, ts.addr)
		})
	}
}

func TestUnsupportedVersionIsAnsweredAtThatVersion(t *testing.T) {
	ts := startServer(t, ServerConfig{}, metadataAPI(nil))
	c := dialRaw(t, ts.addr)

	// Metadata is registered up to v12; v13 is known to kmsg but not served.
	c.send(21, metadataRequest(13, "a", "b"))
	mresp := kmsg.NewPtrMetadataResponse()
	mresp.Version = 13
	if corr := c.recv(mresp); corr != 21 {
		t.Fatalf("correlation id %d, want 21", corr)
	}
	if mresp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("top-level error %d, want UNSUPPORTED_VERSION", mresp.ErrorCode)
	}
	if len(mresp.Topics) != 2 || *mresp.Topics[0].Topic != "a" || *mresp.Topics[1].Topic != "b" ||
		mresp.Topics[0].ErrorCode != kerr.UnsupportedVersion.Code || mresp.Topics[1].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("topics = %+v, want a and b with UNSUPPORTED_VERSION", mresp.Topics)
	}

	// Produce is not registered at all: every partition says UNSUPPORTED_VERSION.
	preq := kmsg.NewPtrProduceRequest()
	preq.Version = 9
	preq.Acks = -1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "orders"
	for _, p := range []int32{0, 4} {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition = p
		pt.Partitions = append(pt.Partitions, pp)
	}
	preq.Topics = append(preq.Topics, pt)
	c.send(22, preq)
	presp := kmsg.NewPtrProduceResponse()
	presp.Version = 9
	if corr := c.recv(presp); corr != 22 {
		t.Fatalf("correlation id %d, want 22", corr)
	}
	if len(presp.Topics) != 1 || presp.Topics[0].Topic != "orders" || len(presp.Topics[0].Partitions) != 2 {
		t.Fatalf("produce response topics = %+v, want orders with 2 partitions", presp.Topics)
	}
	for i, p := range presp.Topics[0].Partitions {
		if p.Partition != []int32{0, 4}[i] || p.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("partition %d = %+v, want UNSUPPORTED_VERSION", i, p)
		}
	}

	// The connection keeps serving after those answers.
	c.send(23, metadataRequest(12))
	ok := kmsg.NewPtrMetadataResponse()
	ok.Version = 12
	if corr := c.recv(ok); corr != 23 || len(ok.Brokers) != 1 {
		t.Fatalf("follow-up Metadata: corr %d brokers %+v", corr, ok.Brokers)
	}
}

func TestUnsupportedVersionUsesTheAPIErrorBuilder(t *testing.T) {
	var built atomic.Int32
	api := API{
		Key: 10, MinVersion: 1, MaxVersion: 4, // FindCoordinator without v0
		Handle: func(context.Context, *Request) (kmsg.Response, error) { return nil, errors.New("not reached") },
		Error: func(req kmsg.Request, code int16) kmsg.Response {
			built.Add(1)
			resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
			resp.ErrorCode = code
			resp.NodeID = -7 // marks the custom builder
			return resp
		},
	}
	ts := startServer(t, ServerConfig{}, api)
	c := dialRaw(t, ts.addr)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 0
	req.CoordinatorKey = "g"
	c.send(5, req)
	resp := kmsg.NewPtrFindCoordinatorResponse()
	resp.Version = 0
	c.recv(resp)
	if built.Load() != 1 || resp.ErrorCode != kerr.UnsupportedVersion.Code || resp.NodeID != -7 {
		t.Fatalf("response %+v (builder calls %d), want the API's builder with UNSUPPORTED_VERSION", resp, built.Load())
	}
}

func TestPipelinedResponsesComeBackInRequestOrder(t *testing.T) {
	const n = 8
	g := newGate()
	finished := make(chan int32, n)
	api := API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		if err := g.wait(ctx, req.CorrelationID); err != nil {
			return nil, err
		}
		finished <- req.CorrelationID
		return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
	}}
	ts := startServer(t, ServerConfig{MaxInFlightPerConn: n}, api)
	c := dialRaw(t, ts.addr)
	sendMetadataBurst(c, n)

	// All n handlers run at once...
	for range n {
		select {
		case <-g.started:
		case <-time.After(testDeadline):
			t.Fatal("handlers did not all start concurrently")
		}
	}
	// ...and finish last-first: each is released only after the later ones are done.
	for i := int32(n - 1); i >= 0; i-- {
		g.open(i)
		select {
		case got := <-finished:
			if got != i {
				t.Fatalf("handler %d finished, want %d", got, i)
			}
		case <-time.After(testDeadline):
			t.Fatalf("handler %d did not finish", i)
		}
	}
	expectMetadataInOrder(t, c, n)
}

func TestNilResponseKeepsOrder(t *testing.T) {
	releaseProduce := make(chan struct{})
	var produceDone atomic.Bool
	produce := API{Key: 0, MinVersion: 3, MaxVersion: 9, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		preq := req.Body.(*kmsg.ProduceRequest)
		select {
		case <-releaseProduce:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		produceDone.Store(true)
		if preq.Acks == 0 {
			return nil, nil
		}
		return preq.ResponseKind(), nil
	}}
	metadataRan := make(chan *Request, 4)
	ts := startServer(t, ServerConfig{}, produce, metadataAPI(metadataRan))

	c := dialRaw(t, ts.addr)
	preq := kmsg.NewPtrProduceRequest()
	preq.Version, preq.Acks = 9, 0
	var burst []byte
	burst = appendRequest(burst, 1, nil, metadataRequest(12))
	burst = appendRequest(burst, 2, nil, preq)
	burst = appendRequest(burst, 3, nil, metadataRequest(12))
	c.sendRaw(burst)

	// Both Metadata handlers complete while the acks=0 Produce is still held.
	for range 2 {
		select {
		case <-metadataRan:
		case <-time.After(testDeadline):
			t.Fatal("Metadata handlers did not run")
		}
	}
	first := kmsg.NewPtrMetadataResponse()
	first.Version = 12
	if corr := c.recv(first); corr != 1 {
		t.Fatalf("first response has correlation id %d, want 1", corr)
	}
	close(releaseProduce)
	second := kmsg.NewPtrMetadataResponse()
	second.Version = 12
	if corr := c.recv(second); corr != 3 {
		t.Fatalf("second response has correlation id %d, want 3 (acks=0 Produce sends nothing)", corr)
	}
	if !produceDone.Load() {
		t.Fatal("response 3 overtook the acks=0 Produce before it finished")
	}
}

func TestShutdownWaitsForInFlightResponse(t *testing.T) {
	g := newGate()
	ts := startServer(t, ServerConfig{}, API{Key: 3, MinVersion: 0, MaxVersion: 12,
		Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
			if err := g.wait(ctx, req.CorrelationID); err != nil {
				return nil, err
			}
			return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
		}})
	c := dialRaw(t, ts.addr)
	c.send(42, metadataRequest(12))
	<-g.started

	shutdownErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		shutdownErr <- ts.srv.Shutdown(ctx)
	}()
	// Serve returns once the listener is closed; new connections are refused.
	select {
	case err := <-ts.serveErr:
		ts.serveErr <- err // for the cleanup check
		if err != nil {
			t.Fatalf("Serve returned %v, want nil", err)
		}
	case <-time.After(testDeadline):
		t.Fatal("Serve did not return after Shutdown")
	}
	if nc, err := net.Dial("tcp", ts.addr); err == nil {
		nc.Close()
		t.Fatal("dial succeeded after Shutdown")
	}
	select {
	case err := <-shutdownErr:
		t.Fatalf("Shutdown returned %v while a handler was still running", err)
	default:
	}

	g.open(42)
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 12
	if corr := c.recv(resp); corr != 42 {
		t.Fatalf("correlation id %d, want 42", corr)
	}
	c.expectClosed()
	select {
	case err := <-shutdownErr:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(testDeadline):
		t.Fatal("Shutdown did not return")
	}
	if opened, closed := ts.obs.counts(); opened != 1 || closed != 1 {
		t.Fatalf("observer saw %d opened / %d closed connections, want 1/1", opened, closed)
	}
}

func TestShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	reg, err := NewRegistry(metadataAPI(nil))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ServerConfig{}, reg, nil, zerolog.Nop())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for i := range 5 {
		c := dialRaw(t, ln.Addr().String())
		var burst []byte
		for j := range 10 {
			burst = appendRequest(burst, int32(j), nil, metadataRequest(12, "t"))
		}
		c.sendRaw(burst)
		if i%2 == 0 { // some connections read their answers, others leave them unread
			for range 10 {
				c.recv(&kmsg.MetadataResponse{Version: 12})
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	waitFor(t, "server goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

func TestShutdownPastDeadlineCancelsHandlers(t *testing.T) {
	g := newGate()
	cancelled := make(chan struct{})
	ts := startServer(t, ServerConfig{}, API{Key: 3, MinVersion: 0, MaxVersion: 12,
		Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
			err := g.wait(ctx, req.CorrelationID) // never opened
			close(cancelled)
			return nil, err
		}})
	c := dialRaw(t, ts.addr)
	c.send(1, metadataRequest(12))
	<-g.started

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(testDeadline):
		t.Fatal("handler context was not cancelled by a forced shutdown")
	}
	c.expectClosed()
}

func TestHandlerPanicClosesOnlyThatConnection(t *testing.T) {
	meta := metadataAPI(nil)
	inner := meta.Handle
	meta.Handle = func(ctx context.Context, req *Request) (kmsg.Response, error) {
		if mreq := req.Body.(*kmsg.MetadataRequest); len(mreq.Topics) == 1 && *mreq.Topics[0].Topic == "boom" {
			panic("boom topic")
		}
		return inner(ctx, req)
	}
	ts := startServer(t, ServerConfig{}, meta)

	c := dialRaw(t, ts.addr)
	var burst []byte
	burst = appendRequest(burst, 1, nil, metadataRequest(12, "fine"))
	burst = appendRequest(burst, 2, nil, metadataRequest(12, "boom"))
	c.sendRaw(burst)
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 12
	if corr := c.recv(resp); corr != 1 {
		t.Fatalf("correlation id %d, want 1 (written before the panicking request)", corr)
	}
	c.expectClosed()
	checkServes(t, ts.addr)
	logs := ts.logs.String()
	if !strings.Contains(logs, "panicked") || !strings.Contains(logs, "boom topic") || !strings.Contains(logs, "goroutine") {
		t.Fatalf("panic not logged with its stack; logs:\n%s", logs)
	}
}

// explodingResponse is a Metadata response whose encoding panics.
type explodingResponse struct{ *kmsg.MetadataResponse }

func (explodingResponse) AppendTo([]byte) []byte { panic("cannot encode") }

func TestResponseEncodingPanicClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, ServerConfig{}, API{Key: 3, MinVersion: 0, MaxVersion: 12,
		Handle: func(context.Context, *Request) (kmsg.Response, error) {
			return explodingResponse{kmsg.NewPtrMetadataResponse()}, nil
		}})
	c := dialRaw(t, ts.addr)
	c.send(1, metadataRequest(12))
	c.expectClosed()
	checkServes(t, ts.addr)
	if !strings.Contains(ts.logs.String(), "cannot encode") {
		t.Fatalf("encoding panic not logged; logs:\n%s", ts.logs)
	}
}

func TestHandlerErrorClosesConnection(t *testing.T) {
	ts := startServer(t, ServerConfig{}, API{Key: 3, MinVersion: 0, MaxVersion: 12,
		Handle: func(context.Context, *Request) (kmsg.Response, error) {
			return nil, errors.New("metadata unavailable")
		}})
	c := dialRaw(t, ts.addr)
	c.send(1, metadataRequest(12))
	c.expectClosed()
	checkServes(t, ts.addr)
	waitFor(t, "the failure to be reported", func() bool {
		for _, r := range ts.obs.records() {
			if r.key == 3 && r.errCode == kerr.UnknownServerError.Code && r.respSize == 0 {
				return true
			}
		}
		return false
	})
	if !strings.Contains(ts.logs.String(), "metadata unavailable") {
		t.Fatalf("handler error not logged; logs:\n%s", ts.logs)
	}
}

func TestWrongResponseKindClosesConnection(t *testing.T) {
	ts := startServer(t, ServerConfig{}, API{Key: 3, MinVersion: 0, MaxVersion: 12,
		Handle: func(context.Context, *Request) (kmsg.Response, error) {
			return kmsg.NewPtrProduceResponse(), nil
		}})
	c := dialRaw(t, ts.addr)
	c.send(1, metadataRequest(12))
	c.expectClosed()
}

func TestIdleConnectionIsClosed(t *testing.T) {
	ts := startServer(t, ServerConfig{IdleTimeout: 20 * time.Millisecond})
	c := dialRaw(t, ts.addr)
	c.expectClosed()
	checkServes(t, ts.addr) // a connection that talks is answered
}

// timeoutSpy wraps accepted connections to count reads that end in a deadline.
type timeoutSpy struct {
	net.Listener
	timeouts atomic.Int32
}

func (l *timeoutSpy) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &timeoutSpyConn{Conn: nc, spy: l}, nil
}

type timeoutSpyConn struct {
	net.Conn
	spy *timeoutSpy
}

func (c *timeoutSpyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.spy.timeouts.Add(1)
	}
	return n, err
}

func TestIdleTimeoutSparesConnectionsWithRequestsInFlight(t *testing.T) {
	g := newGate()
	spy := &timeoutSpy{}
	ts := startServerWrapped(t, ServerConfig{IdleTimeout: 10 * time.Millisecond},
		func(ln net.Listener) net.Listener { spy.Listener = ln; return spy },
		API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
			if err := g.wait(ctx, req.CorrelationID); err != nil {
				return nil, err
			}
			return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
		}})
	c := dialRaw(t, ts.addr)
	c.send(3, metadataRequest(12))
	<-g.started
	// The client stays silent past the idle timeout several times over while its
	// request is being handled...
	waitFor(t, "idle timeouts to fire", func() bool { return spy.timeouts.Load() >= 3 })
	g.open(3)
	// ...and still gets its answer; only then is the silent connection closed.
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = 12
	if corr := c.recv(resp); corr != 3 {
		t.Fatalf("correlation id %d, want 3", corr)
	}
	c.expectClosed()
}

func TestObserverSeesSizes(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	c := dialRaw(t, ts.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "x", "1"
	id := "raw-test"
	frame := appendRequest(nil, 9, &id, req)
	c.sendRaw(frame)
	resp := req.ResponseKind()
	c.recv(resp)
	waitFor(t, "the request to be reported", func() bool { return len(ts.obs.records()) == 1 })
	r := ts.obs.records()[0]
	want := appendResponse(nil, 9, resp)
	if r.key != 18 || r.version != 3 || r.reqBytes != len(frame) || r.respSize != len(want) || r.errCode != 0 {
		t.Fatalf("observer got %+v, want key 18 v3 %d/%d bytes", r, len(frame), len(want))
	}
}

// An ordered API's Begin runs in request order even though the requests then complete
// concurrently and out of order.
func TestBeginRunsInRequestOrder(t *testing.T) {
	const n = 16
	g := newGate()
	var mu sync.Mutex
	var begun []int32
	api := API{Key: 3, MinVersion: 0, MaxVersion: 12, Begin: func(ctx context.Context, req *Request) func() (kmsg.Response, error) {
		mu.Lock()
		begun = append(begun, req.CorrelationID)
		mu.Unlock()
		return func() (kmsg.Response, error) {
			if err := g.wait(ctx, req.CorrelationID); err != nil {
				return nil, err
			}
			return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
		}
	}}
	ts := startServer(t, ServerConfig{MaxInFlightPerConn: n}, api)
	c := dialRaw(t, ts.addr)
	sendMetadataBurst(c, n)
	for range n {
		select {
		case <-g.started:
		case <-time.After(testDeadline):
			t.Fatal("requests did not all start")
		}
	}
	for i := int32(n - 1); i >= 0; i-- {
		g.open(i)
	}
	expectMetadataInOrder(t, c, n)
	mu.Lock()
	defer mu.Unlock()
	for i, corr := range begun {
		if corr != int32(i) {
			t.Fatalf("Begin ran in order %v", begun)
		}
	}
}

// sendMetadataBurst writes n Metadata v12 requests, correlation ids 0..n-1, in one write.
func sendMetadataBurst(c *rawConn, n int32) {
	var burst []byte
	for i := int32(0); i < n; i++ {
		burst = appendRequest(burst, i, nil, metadataRequest(12))
	}
	c.sendRaw(burst)
}

// expectMetadataInOrder reads n Metadata v12 responses and checks they come in request
// order.
func expectMetadataInOrder(t *testing.T, c *rawConn, n int32) {
	t.Helper()
	for want := int32(0); want < n; want++ {
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = 12
		if corr := c.recv(resp); corr != want {
			t.Fatalf("response %d has correlation id %d", want, corr)
		}
	}
}

// A client that hangs up while a request is being handled (a long-poll fetch parked for
// minutes, say) frees the connection at once: the handler's context is cancelled and the
// socket closed, as Kafka closes a connection whose client went away. The server used to
// keep both until the handler finished, to write an answer nobody would read.
func TestClientHangUpCancelsItsHandlers(t *testing.T) {
	g := newGate()
	cancelled := make(chan struct{})
	ts := startServer(t, ServerConfig{}, API{Key: 3, MinVersion: 0, MaxVersion: 12,
		Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
			err := g.wait(ctx, req.CorrelationID) // never opened: only the hang-up ends it
			close(cancelled)
			return nil, err
		}})
	c := dialRaw(t, ts.addr)
	c.send(1, metadataRequest(12))
	<-g.started
	c.nc.Close()
	select {
	case <-cancelled:
	case <-time.After(testDeadline):
		t.Fatal("the handler of a request whose client hung up was not cancelled")
	}
	waitFor(t, "the connection to close", func() bool {
		opened, closed := ts.obs.counts()
		return opened == 1 && closed == 1
	})
	checkServes(t, ts.addr)
}

// A request whose handler was cancelled because its client hung up (a consumer closing
// with a long poll in flight, which is routine) is dropped without a warning; a handler
// failure on a live connection still warns.
func TestHungUpRequestsAreNoWarning(t *testing.T) {
	logs := &logBuffer{}
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ServerConfig{}, reg, &recordingObserver{}, zerolog.New(logs))
	client, server := net.Pipe()
	defer client.Close()
	c := newConn(srv, server, 1)
	p := &pending{req: Request{Key: 1, Version: 17}, err: fmt.Errorf("fetch: %w", context.Canceled)}
	c.close()
	c.writeResponse(bufio.NewWriter(io.Discard), p)
	if strings.Contains(logs.String(), `"level":"warn"`) {
		t.Fatalf("a request cancelled by its client's hang-up logged a warning:\n%s", logs)
	}
	live := newConn(srv, server, 2)
	live.writeResponse(bufio.NewWriter(io.Discard), &pending{req: Request{Key: 1, Version: 17}, err: errors.New("boom")})
	if !strings.Contains(logs.String(), `"level":"warn"`) {
		t.Fatalf("a handler failure on a live connection logged no warning:\n%s", logs)
	}
}

// An InOrder API's requests on a connection run one at a time, in request order: a later
// one starts only once the earlier one is handled, however soon it could finish itself.
func TestInOrderRequestsRunOneAtATime(t *testing.T) {
	const n = 8
	g := newGate()
	var mu sync.Mutex
	var finished []int32
	api := API{Key: 3, MinVersion: 0, MaxVersion: 12, InOrder: true, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		if err := g.wait(ctx, req.CorrelationID); err != nil {
			return nil, err
		}
		mu.Lock()
		finished = append(finished, req.CorrelationID)
		mu.Unlock()
		return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
	}}
	ts := startServer(t, ServerConfig{MaxInFlightPerConn: n}, api)
	c := dialRaw(t, ts.addr)
	sendMetadataBurst(c, n)
	select {
	case corr := <-g.started:
		if corr != 0 {
			t.Fatalf("request %d started first", corr)
		}
	case <-time.After(testDeadline):
		t.Fatal("the first request did not start")
	}
	// Releasing the later requests first lets none of them overtake the first.
	for i := int32(n - 1); i >= 0; i-- {
		g.open(i)
	}
	expectMetadataInOrder(t, c, n)
	mu.Lock()
	defer mu.Unlock()
	for i, corr := range finished {
		if corr != int32(i) {
			t.Fatalf("requests finished in order %v", finished)
		}
	}
}

// A change that has its place in the order (Request.Sequenced) lets the connection's
// next change start while it still waits, and a read behind both waits for both to be
// answered: a connection's commits share Raft's fsyncs and still apply in order, and an
// OffsetFetch behind them sees them.
func TestSequencedChangesOverlapAndReadsWaitForThem(t *testing.T) {
	g := newGate()
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	changed := make(chan int32, 2)
	change := API{Key: 3, MinVersion: 0, MaxVersion: 12, InOrder: true, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		// Recorded before Sequenced, which is what lets the next change in: the order of
		// these events is the order the changes got their places.
		record(fmt.Sprintf("change %d begins", req.CorrelationID))
		req.Sequenced()
		err := g.wait(ctx, req.CorrelationID)
		record(fmt.Sprintf("change %d done", req.CorrelationID))
		changed <- req.CorrelationID
		return req.Body.(*kmsg.MetadataRequest).ResponseKind(), err
	}}
	read := API{Key: 10, MinVersion: 0, MaxVersion: 4, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		record("read")
		return req.Body.(*kmsg.FindCoordinatorRequest).ResponseKind(), nil
	}}
	ts := startServer(t, ServerConfig{MaxInFlightPerConn: 8}, change, read)
	c := dialRaw(t, ts.addr)
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.Version, find.CoordinatorKey = 3, "g"
	var burst []byte
	burst = appendRequest(burst, 0, nil, metadataRequest(12))
	burst = appendRequest(burst, 1, nil, metadataRequest(12))
	burst = appendRequest(burst, 2, nil, find)
	c.sendRaw(burst)

	// Both changes start though the first is held: it said it has its place. (Once it
	// has, either may reach the gate first.)
	started := map[int32]bool{}
	for range 2 {
		select {
		case corr := <-g.started:
			started[corr] = true
		case <-time.After(testDeadline):
			t.Fatalf("changes %v started; both should while change 0 waits (sequenced)", started)
		}
	}
	if !started[0] || !started[1] {
		t.Fatalf("changes %v started, want 0 and 1", started)
	}
	g.open(1)
	select {
	case <-changed:
	case <-time.After(testDeadline):
		t.Fatal("change 1 did not finish")
	}
	g.open(0)
	for want := int32(0); want < 2; want++ {
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = 12
		if corr := c.recv(resp); corr != want {
			t.Fatalf("response %d has correlation id %d", want, corr)
		}
	}
	resp := kmsg.NewPtrFindCoordinatorResponse()
	resp.Version = 3
	if corr := c.recv(resp); corr != 2 {
		t.Fatalf("response 2 has correlation id %d", corr)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"change 0 begins", "change 1 begins", "change 1 done", "change 0 done", "read"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v: changes get their places in order, and the read waits for both", events, want)
	}
}
