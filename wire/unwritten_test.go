package wire

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// stalledConn is a client that never reads: every write the server makes blocks until
// the connection closes, as it does once the socket buffers are full.
type stalledConn struct {
	net.Conn
	closed chan struct{}
	once   sync.Once
}

func (c *stalledConn) Write([]byte) (int, error) {
	<-c.closed
	return 0, net.ErrClosed
}

func (c *stalledConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

type stallingListener struct{ net.Listener }

func (l stallingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stalledConn{Conn: nc, closed: make(chan struct{})}, nil
}

// A client that pipelines requests with large answers and never reads them gets only as
// many handled as fit in maxUnwrittenPerConn: the rest wait, holding nothing but their
// requests. Every one of them used to be handled, its answer held until written.
func TestLargeAnswersWaitForTheClientToRead(t *testing.T) {
	var handled atomic.Int32
	const answerBytes = 200 << 10 // two fit under the bound, a third does not
	ts := startServerWrapped(t, ServerConfig{},
		func(ln net.Listener) net.Listener { return stallingListener{ln} },
		API{Key: 3, MinVersion: 0, MaxVersion: 12, LargeAnswers: true,
			Handle: func(_ context.Context, req *Request) (kmsg.Response, error) {
				handled.Add(1)
				resp := req.Body.(*kmsg.MetadataRequest).ResponseKind().(*kmsg.MetadataResponse)
				resp.ClusterID = kmsg.StringPtr(string(make([]byte, answerBytes)))
				return resp, nil
			}})
	c := dialRaw(t, ts.addr)
	for corr := range int32(10) {
		c.send(corr, metadataRequest(12))
	}
	waitFor(t, "the first answers to be made", func() bool { return handled.Load() >= 2 })
	// The third may only start once the client reads, which it never does.
	time.Sleep(200 * time.Millisecond)
	if got := handled.Load(); got != 2 {
		t.Fatalf("%d requests handled for a client that reads nothing, want 2 (%d KiB of answers)", got, 2*answerBytes>>10)
	}
	// It hangs up: the waiting requests go with the connection.
	c.nc.Close()
	waitFor(t, "the connection to close", func() bool {
		opened, closed := ts.obs.counts()
		return opened == 1 && closed == 1
	})
}
