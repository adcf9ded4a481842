package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testDeadline bounds every wait in these tests; reaching it is a failure, not a pass.
const testDeadline = 10 * time.Second

// logBuffer collects server logs so tests can assert on them.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type doneRecord struct {
	key, version       int16
	reqBytes, respSize int
	errCode            int16
}

// recordingObserver records what the server reports, for assertions.
type recordingObserver struct {
	mu             sync.Mutex
	done           []doneRecord
	opened, closed int
}

func (o *recordingObserver) RequestDone(key, version int16, _ time.Duration, reqBytes, respBytes int, errCode int16) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = append(o.done, doneRecord{key, version, reqBytes, respBytes, errCode})
}

func (o *recordingObserver) ConnOpened() { o.mu.Lock(); o.opened++; o.mu.Unlock() }
func (o *recordingObserver) ConnClosed() { o.mu.Lock(); o.closed++; o.mu.Unlock() }

func (o *recordingObserver) records() []doneRecord {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]doneRecord(nil), o.done...)
}

func (o *recordingObserver) counts() (opened, closed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opened, o.closed
}

type testServer struct {
	srv      *Server
	addr     string
	logs     *logBuffer
	obs      *recordingObserver
	serveErr chan error
}

// startServer serves apis on 127.0.0.1:0 and shuts the server down when the test ends.
func startServer(t testing.TB, cfg ServerConfig, apis ...API) *testServer {
	t.Helper()
	return startServerWrapped(t, cfg, nil, apis...)
}

// startServerWrapped is startServer with the listener passed through wrap first.
func startServerWrapped(t testing.TB, cfg ServerConfig, wrap func(net.Listener) net.Listener, apis ...API) *testServer {
	t.Helper()
	reg, err := NewRegistry(apis...)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	ts := &testServer{
		addr:     ln.Addr().String(),
		logs:     &logBuffer{},
		obs:      &recordingObserver{},
		serveErr: make(chan error, 1),
	}
	ts.srv = NewServer(cfg, reg, ts.obs, zerolog.New(ts.logs))
	go func() { ts.serveErr <- ts.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.serveErr; err != nil {
			t.Errorf("Serve returned %v after Shutdown, want nil", err)
		}
	})
	return ts
}

// waitFor polls cond until it holds or the test deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// rawConn is a hand-driven Kafka client connection.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testDeadline))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// appendRequest encodes req as a full frame with request header v1, or v2 when req is
// flexible.
func appendRequest(dst []byte, corr int32, clientID *string, req kmsg.Request) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if clientID == nil {
		dst = binary.BigEndian.AppendUint16(dst, 0xffff)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(*clientID)))
		dst = append(dst, *clientID...)
	}
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func (c *rawConn) send(corr int32, req kmsg.Request) {
	c.t.Helper()
	id := "raw-test"
	c.sendRaw(appendRequest(nil, corr, &id, req))
}

func (c *rawConn) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// recvFrame reads one response frame and returns its correlation id and the rest.
func (c *rawConn) recvFrame() (int32, []byte, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(c.br, prefix[:]); err != nil {
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(prefix[:])
	if size < 4 || size > 64<<20 {
		return 0, nil, errors.New("bad response size " + strconv.Itoa(int(size)))
	}
	frame := make([]byte, size)
	if _, err := io.ReadFull(c.br, frame); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(frame)), frame[4:], nil
}

// recv reads one response into resp (whose version must be set) and returns its
// correlation id.
func (c *rawConn) recv(resp kmsg.Response) int32 {
	c.t.Helper()
	corr, body, err := c.recvFrame()
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		if len(body) == 0 || body[0] != 0 {
			c.t.Fatalf("flexible response header: want one empty tagged-field byte, got % x", body[:min(len(body), 4)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decode %s v%d response: %v", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return corr
}

// expectClosed asserts the server closes the connection without sending anything more.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	corr, _, err := c.recvFrame()
	switch {
	case err == nil:
		c.t.Fatalf("got a response (correlation id %d), want the connection closed", corr)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
	default:
		c.t.Fatalf("want the connection closed, got %v", err)
	}
}

// checkServes asserts a fresh connection still gets ApiVersions answered.
func checkServes(t testing.TB, addr string) {
	t.Helper()
	c := dialRaw(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "wire-test", "1.0"
	c.send(7, req)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if corr := c.recv(resp); corr != 7 || resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions on a fresh connection: corr %d, error %d, %d keys", corr, resp.ErrorCode, len(resp.ApiKeys))
	}
}

func metadataRequest(version int16, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	for _, name := range topics {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	return req
}

// metadataAPI is a tiny Metadata handler: one broker (the address the client reached)
// and every requested topic answered UNKNOWN_TOPIC_OR_PARTITION.
func metadataAPI(seen chan<- *Request) API {
	return API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: func(_ context.Context, req *Request) (kmsg.Response, error) {
		if seen != nil {
			select {
			case seen <- req:
			default: // nobody is counting any more
			}
		}
		host, portStr, err := net.SplitHostPort(req.Conn.LocalAddr)
		if err != nil {
			return nil, err
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, err
		}
		mreq := req.Body.(*kmsg.MetadataRequest)
		resp := mreq.ResponseKind().(*kmsg.MetadataResponse)
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 1, host, int32(port)
		resp.Brokers = append(resp.Brokers, b)
		resp.ControllerID = 1
		resp.ClusterID = kmsg.StringPtr("wire-test-cluster")
		for _, rt := range mreq.Topics {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic = rt.Topic
			t.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil
	}}
}

// gate lets a test hold handlers: each announces its correlation id on started and then
// waits until that id is opened.
type gate struct {
	started chan int32
	mu      sync.Mutex
	release map[int32]chan struct{}
}

func newGate() *gate {
	return &gate{started: make(chan int32, 128), release: make(map[int32]chan struct{})}
}

func (g *gate) ch(corr int32) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.release[corr]
	if !ok {
		c = make(chan struct{})
		g.release[corr] = c
	}
	return c
}

func (g *gate) open(corr int32) { close(g.ch(corr)) }

func (g *gate) wait(ctx context.Context, corr int32) error {
	g.started <- corr
	select {
	case <-g.ch(corr):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func splitHostPort(t testing.TB, addr string) (string, int32) {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	return host, int32(port)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
