package wire

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for zero ServerConfig fields.
const (
	DefaultMaxRequestBytes    int32 = 100 << 20 // Kafka socket.request.max.bytes
	DefaultMaxInFlightPerConn       = 64
	// DefaultMaxQueuedRequestBytes bounds the request bytes held across connections.
	DefaultMaxQueuedRequestBytes int64 = 512 << 20
	// DefaultMaxQueuedFetchBytes bounds the fetched record bytes held across connections.
	DefaultMaxQueuedFetchBytes int64 = 512 << 20
	DefaultIdleTimeout               = 10 * time.Minute // Kafka connections.max.idle.ms
)

// ServerConfig tunes a Server. Zero fields take the defaults above.
type ServerConfig struct {
	// MaxRequestBytes bounds a request frame. It is checked on the 4-byte size prefix
	// before anything is allocated; a larger (or non-positive) size closes the connection.
	MaxRequestBytes int32
	// MaxInFlightPerConn bounds the requests of one connection that are being handled
	// or waiting for their turn to be written. The reader stops reading when it is
	// reached, which pushes back on the client through TCP.
	MaxInFlightPerConn int
	// MaxQueuedRequestBytes bounds the bytes of the requests read and not yet handled,
	// summed over every connection (see byteBudget). A reader waits for room before it
	// reads a request's body; a request larger than the bound is admitted alone.
	MaxQueuedRequestBytes int64
	// MaxQueuedFetchBytes bounds the record bytes Fetch handlers have read for responses
	// not yet written, summed over every connection (see fetchHold). A Fetch waits for
	// room before it reads, at most until its MaxWaitMillis, and then answers without
	// the records it could not hold.
	MaxQueuedFetchBytes int64
	// IdleTimeout closes connections that send nothing for this long while nothing is
	// in flight; it also bounds how long one response write may block. Negative
	// disables it.
	IdleTimeout time.Duration
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxInFlightPerConn <= 0 {
		c.MaxInFlightPerConn = DefaultMaxInFlightPerConn
	}
	if c.MaxQueuedRequestBytes <= 0 {
		c.MaxQueuedRequestBytes = DefaultMaxQueuedRequestBytes
	}
	if c.MaxQueuedFetchBytes <= 0 {
		c.MaxQueuedFetchBytes = DefaultMaxQueuedFetchBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return c
}

// Observer is a hook for metrics; NewServer accepts nil. Its methods are called from
// connection goroutines concurrently and must not block.
type Observer interface {
	// RequestDone reports one answered request: d runs from the frame being read to the
	// response being handed to the socket; bytes include the 4-byte size prefixes;
	// respBytes is 0 when nothing was sent. errCode is the response's top-level error
	// code (0 when its type has none), or UNKNOWN_SERVER_ERROR (-1) when the handler
	// failed or panicked and the connection was closed instead.
	RequestDone(key, version int16, d time.Duration, reqBytes, respBytes int, errCode int16)
	ConnOpened()
	ConnClosed()
}

type nopObserver struct{}

func (nopObserver) RequestDone(int16, int16, time.Duration, int, int, int16) {}
func (nopObserver) ConnOpened()                                              {}
func (nopObserver) ConnClosed()                                              {}

// A Server serves the Kafka protocol on the listeners given to Serve.
type Server struct {
	cfg ServerConfig
	reg *Registry
	obs Observer
	log zerolog.Logger

	nextConnID   atomic.Uint64
	shuttingDown atomic.Bool
	draining     chan struct{} // closed by Shutdown: see Request.Draining
	drainOnce    sync.Once

	mu        sync.Mutex // guards listeners and conns, and orders them against Shutdown
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	connsWG   sync.WaitGroup // one per live connection, down when its goroutines are done

	encodeBuffers sync.Pool   // *[]byte response encode buffers, shared by all connections
	frames        framePool   // request frames handed back by handlers (Request.ReleaseFrame)
	budget        *byteBudget // request bytes read and not yet handled
	fetchBudget   *byteBudget // fetched record bytes not yet written (see fetchHold)
	markerNonce   uint64      // for vectored Fetch frames (encodeFetchVectored)
}

// drainWriteTimeout is how long a response may take to write once the server is
// shutting down. Kafka closes its connections at once; we let the responses to requests
// already read go out, but not wait on a client that does not read them.
const drainWriteTimeout = 5 * time.Second

// maxPooledBuffer caps the encode buffers kept in encodeBuffers. Larger ones (Fetch
// answers carrying records) go to the frame pool's size classes, where one large answer
// is not handed to every small one and sync.Pool lets go of what stays unused.
const maxPooledBuffer = 1 << 20

func (s *Server) getBuffer() *[]byte {
	if b, ok := s.encodeBuffers.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1024)
	return &b
}

// getLargeBuffer returns an empty encode buffer of capacity at least n, from the frame
// pool when it holds one.
func (s *Server) getLargeBuffer(n int) *[]byte {
	b := s.frames.get(n)
	if b == nil {
		b = make([]byte, 0, frameCapacity(n))
	}
	b = b[:0]
	return &b
}

func (s *Server) putBuffer(b *[]byte) {
	switch {
	case b == nil:
	case cap(*b) > maxPooledBuffer:
		s.frames.put(*b)
	default:
		s.encodeBuffers.Put(b)
	}
}

// NewServer returns a server dispatching to reg. obs may be nil; so may reg, which
// serves ApiVersions alone.
func NewServer(cfg ServerConfig, reg *Registry, obs Observer, log zerolog.Logger) *Server {
	if obs == nil {
		obs = nopObserver{}
	}
	if reg == nil {
		reg, _ = NewRegistry() // cannot fail: only the built-in ApiVersions
	}
	cfg = cfg.withDefaults()
	return &Server{
		cfg:         cfg,
		budget:      newByteBudget(cfg.MaxQueuedRequestBytes),
		fetchBudget: newByteBudget(cfg.MaxQueuedFetchBytes),
		reg:         reg,
		obs:         obs,
		log:         log,
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[*conn]struct{}),
		draining:    make(chan struct{}),
		// Random, so that no client-chosen bytes (a topic name) can be taken for a marker.
		markerNonce: rand.Uint64(),
	}
}

// Serve accepts connections on ln until Shutdown, after which it returns nil (also when
// called after Shutdown). It closes ln when it returns. Serve may run on several
// listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	defer ln.Close()
	if !s.trackListener(ln) {
		return nil
	}
	defer s.untrackListener(ln)
	log := s.log.With().Str("listener", ln.Addr().String()).Logger()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shuttingDown.Load() {
				return nil
			}
			// Out of file descriptors and similar conditions pass; anything else means
			// the listener is unusable.
			var temp interface{ Temporary() bool }
			if errors.As(err, &temp) && temp.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn().Err(err).Dur("retry_in", backoff).Msg("accept failed; retrying")
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		s.startConn(nc)
	}
}

func (s *Server) trackListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrackListener(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
}

func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown.Load() {
		nc.Close()
		return
	}
	c := newConn(s, nc, s.nextConnID.Add(1))
	s.conns[c] = struct{}{}
	s.connsWG.Add(1)
	go c.serve()
}

// connDone is called once per connection after all its goroutines have finished.
func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connsWG.Done()
}

func (s *Server) liveConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Shutdown stops accepting connections and reading requests, lets the requests already
// read finish and their responses be written, then closes the connections. If ctx ends
// first, the remaining connections are closed at once (their handlers' contexts are
// cancelled) and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shuttingDown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	// Long polls answer now: waiting out their MaxWaitMillis would hold the shutdown for
	// as long as a client asked (kcat's fetch.wait.max.ms can be minutes) and then cut
	// the connection under them at ctx's end.
	s.drainOnce.Do(func() { close(s.draining) })

	for _, c := range s.liveConns() {
		c.stopReading()
		c.stopWriting()
	}
	done := make(chan struct{})
	go func() {
		s.connsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range s.liveConns() {
			c.close()
		}
		return fmt.Errorf("shutdown with connections still busy: %w", ctx.Err())
	}
}
