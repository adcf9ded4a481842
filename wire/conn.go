package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	readBufferSize  = 32 << 10
	writeBufferSize = 32 << 10
)

// conn is one client connection. Its reader goroutine (serve) decodes requests and starts
// a handler goroutine per request; its writer goroutine writes the responses in request
// order. The queue carries the requests from reader to writer in arrival order, and sem
// bounds how many are between "read" and "written".
type conn struct {
	srv  *Server
	nc   net.Conn
	info ConnInfo
	log  zerolog.Logger

	ctx       context.Context // cancelled on close; handlers get it
	cancel    context.CancelFunc
	closeOnce sync.Once

	sem      chan struct{}
	queue    chan *pending
	handlers sync.WaitGroup
	fetched  *fetchHold // this connection's share of the server's fetch budget

	unwritten   *unwrittenResponses // LargeAnswers responses the client has not read yet
	lastLarge   chan struct{}       // done of the last LargeAnswers request read; reader only
	lastApplied chan struct{}       // applied of the last InOrder request read; reader only
	lastSeq     chan struct{}       // sequenced of the last InOrder request read; reader only
}

// pending is one request from the moment it is read until its response is written.
type pending struct {
	req     Request
	start   time.Time
	done    chan struct{} // closed when frame/err are set
	frame   *[]byte       // the encoded response (pooled); nil when there is none to send
	pieces  net.Buffers   // when set, what to write instead of frame: slices of it and records
	size    int           // bytes in pieces
	errCode int16         // the response's top-level error code, for the Observer
	after   chan struct{} // LargeAnswers: the previous such request's done, nil for none
	prior   chan struct{} // what it waits for before it is handled (see readLoop), nil for none
	// sequenced (InOrder requests) is closed once the request's change has its place in
	// the order of changes (Request.Sequenced, or at the latest when it is handled);
	// the connection's next InOrder request waits for it rather than for done.
	sequenced     chan struct{}
	sequencedOnce sync.Once
	// applied (InOrder requests) is closed once this request and every InOrder request
	// read before it are handled: sequenced changes may finish out of order, and a read
	// behind them must see them all. prevApplied is the previous change's.
	applied, prevApplied chan struct{}
	charged              int // bytes of frame counted in the connection's unwritten responses
	admitted             int // room taken in the server's request budget (readAdmittedFrame)
	err                  error
	panicked             bool
}

var errHandlerPanic = errors.New("handler panicked")

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	info := ConnInfo{ID: id, RemoteAddr: nc.RemoteAddr().String(), LocalAddr: nc.LocalAddr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		srv:     s,
		nc:      nc,
		info:    info,
		log:     s.log.With().Uint64("conn", id).Str("remote", info.RemoteAddr).Logger(),
		ctx:     ctx,
		cancel:  cancel,
		sem:     make(chan struct{}, s.cfg.MaxInFlightPerConn),
		queue:   make(chan *pending, s.cfg.MaxInFlightPerConn),
		fetched: &fetchHold{budget: s.fetchBudget},

		unwritten: newUnwrittenResponses(),
	}
}

// serve runs the connection to completion: reading here, writing on a second goroutine.
func (c *conn) serve() {
	c.srv.obs.ConnOpened()
	defer c.srv.connDone(c)
	defer c.srv.obs.ConnClosed()
	c.log.Debug().Msg("connection opened")

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop()
	close(c.queue) // the reader is the only sender; the writer drains what is left
	<-writerDone
	c.close()
	c.handlers.Wait()
	c.fetched.releaseAll() // responses never written, reads cut short by the close
	c.log.Debug().Msg("connection closed")
}

// close closes the socket and cancels the handlers' context. Safe to call repeatedly
// and from any goroutine.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

// stopReading makes the reader return at the next frame boundary (or at once if it is
// waiting for bytes), so the writer can drain and close. Used by Shutdown after it set
// shuttingDown; the reader re-checks that flag after arming its own deadline, so the
// two cannot overwrite each other's deadline unnoticed.
func (c *conn) stopReading() {
	_ = c.nc.SetReadDeadline(time.Now())
}

// stopWriting bounds the writes from now on, and the one under way, to drainWriteTimeout:
// at shutdown a client that has stopped reading its responses (a stopped or wedged
// consumer with a full socket buffer) would otherwise hold the shutdown for its whole
// grace. Shutdown calls it after setting shuttingDown and the writer after arming its own
// deadline, so whichever runs last leaves the bound in place.
func (c *conn) stopWriting() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(drainWriteTimeout))
}

// readLoop reads and dispatches requests until the client leaves, the server shuts down,
// the connection idles out, or a frame cannot be answered. Returning without close()
// lets the writer finish the requests already read (at shutdown); a client that closed
// its end gets nothing more (keepReadingAfter closes).
func (c *conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, readBufferSize)
	deadline := newIdleDeadline(c.srv.cfg.IdleTimeout, c.nc.SetReadDeadline)
	admit := admission{ctx: c.ctx, budget: c.srv.budget}
	for {
		deadline.arm()
		if c.srv.shuttingDown.Load() {
			return
		}
		frame, admitted, started, err := readAdmittedFrame(br, c.srv.cfg.MaxRequestBytes, &c.srv.frames, &admit)
		if err != nil {
			if c.keepReadingAfter(err, started) {
				continue
			}
			return
		}
		start := time.Now()
		d, err := decodeRequest(frame, c.srv.reg.table.Load())
		if err != nil {
			c.srv.budget.release(admitted)
			c.log.Warn().Err(err).Int("bytes", len(frame)+4).Msg("undecodable request; closing connection")
			c.close()
			return
		}
		p := &pending{
			req: Request{
				Key:           d.header.key,
				Version:       d.header.version,
				CorrelationID: d.header.correlationID,
				ClientID:      d.header.clientID,
				Body:          d.body,
				Conn:          c.info,
				Size:          len(frame) + 4,
				frame:         frame,
				pool:          &c.srv.frames,
				hold:          c.fetched,
				draining:      c.srv.draining,
			},
			start:    start,
			done:     make(chan struct{}),
			admitted: admitted,
		}
		select {
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
			c.srv.budget.release(admitted)
			return
		}
		if d.dispatch == dispatchServe && d.api.LargeAnswers {
			p.after, c.lastLarge = c.lastLarge, p.done
		}
		if d.dispatch == dispatchServe {
			// Every request is handled after the InOrder requests read before it, so a
			// read pipelined behind a change (an OffsetFetch behind an OffsetCommit, a
			// Produce behind the CreateTopics of its topic) sees it, as on a Kafka broker,
			// which handles a connection's requests one at a time. Requests that change
			// nothing still run concurrently with each other.
			p.prior = c.lastApplied
			if d.api.InOrder {
				// A change waits only until the previous change has its place in the
				// order (it may still be waiting to be applied); see Request.Sequenced.
				p.prior = c.lastSeq
				p.sequenced, p.applied, p.prevApplied = make(chan struct{}), make(chan struct{}), c.lastApplied
				p.req.sequenced = p.markSequenced
				c.lastApplied, c.lastSeq = p.applied, p.sequenced
			}
			if d.api.Begin != nil && p.prior != nil {
				// Begin runs here, on the reader: wait for the change before it.
				select {
				case <-p.prior:
				case <-c.ctx.Done():
				}
				p.prior = nil
			}
		}
		c.queue <- p // never blocks: the queue holds at most as many as sem admits
		c.handlers.Add(1)
		finish := c.begin(p, d)
		go c.handle(p, d, finish)
	}
}

// markApplied closes applied once every earlier change has been handled too (a no-op
// for requests that are not InOrder). Called when this request has been handled.
func (p *pending) markApplied() {
	switch {
	case p.applied == nil:
	case p.prevApplied == nil:
		close(p.applied)
	default:
		select {
		case <-p.prevApplied:
			close(p.applied)
		default: // an earlier change still waits: close behind it
			go func() {
				<-p.prevApplied
				close(p.applied)
			}()
		}
	}
}

// markSequenced closes sequenced, once (a no-op for requests that are not InOrder).
func (p *pending) markSequenced() {
	if p.sequenced != nil {
		p.sequencedOnce.Do(func() { close(p.sequenced) })
	}
}

// begin runs an ordered API's Begin on the reader goroutine (see API.Begin). A panic is
// contained like a handler panic: the request fails and closes the connection in order.
func (c *conn) begin(p *pending, d decodedRequest) (finish func() (kmsg.Response, error)) {
	if d.dispatch != dispatchServe || d.api.Begin == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error().Str("api", kmsg.NameForKey(p.req.Key)).Int16("version", p.req.Version).
				Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).
				Msg("request handler panicked; closing connection")
			finish = func() (kmsg.Response, error) { panic(r) }
		}
	}()
	return d.api.Begin(c.ctx, &p.req)
}

// keepReadingAfter classifies a read error: true to read on (an idle deadline passed
// between frames while requests are still being answered), false to stop reading. It
// closes the connection itself when the error leaves nothing worth draining.
func (c *conn) keepReadingAfter(err error, started bool) bool {
	timedOut := errors.Is(err, os.ErrDeadlineExceeded)
	var sizeErr errFrameSize
	var tooLarge errTooLargeToHandle
	switch {
	case timedOut && c.srv.shuttingDown.Load():
		return false // graceful: the writer drains and closes
	case timedOut && !started && len(c.sem) > 0:
		return true // quiet only because we are still answering
	case timedOut:
		c.log.Debug().Bool("mid_frame", started).Dur("idle_timeout", c.srv.cfg.IdleTimeout).Msg("idle connection; closing")
		if started {
			c.close()
		}
		return false
	case errors.Is(err, io.EOF) && !started:
		// The client has gone: close at once and drop the answers still being made, as
		// Kafka does (its selector takes end of stream for a disconnection, and
		// SocketServer drops a response whose connection closed). Draining them held the
		// socket and its handlers until the last one finished: a long-poll fetch for its
		// whole MaxWaitMillis, and a client that dialled, fetched and hung up in a loop
		// piled up open connections until the node ran out of descriptors.
		c.log.Debug().Msg("client closed the connection")
	case errors.As(err, &sizeErr):
		c.log.Warn().Err(err).Msg("bad request size; closing connection")
	case errors.As(err, &tooLarge):
		// As Kafka treats a request over socket.request.max.bytes: the connection goes.
		c.log.Warn().Err(err).Msg("request too large to handle; closing connection")
	case c.ctx.Err() != nil:
		// We closed the socket ourselves; the reason is already logged.
	default:
		c.log.Debug().Err(err).Msg("read failed; closing connection")
	}
	c.close()
	return false
}

// handle produces and encodes p's response on its own goroutine, so encoding runs in
// parallel too and a response that panics while encoding is contained like a handler
// panic: logged with its stack, turned into an error that closes only this connection
// once the writer reaches p (earlier responses are still written).
func (c *conn) handle(p *pending, d decodedRequest, finish func() (kmsg.Response, error)) {
	defer c.handlers.Done()
	// The request's room in the server's budget (its bytes, weighed: see weighRequest)
	// is held until it is handled (its frame is then released, or soon will be; the
	// response is not counted).
	defer c.srv.budget.release(p.admitted)
	defer close(p.done)
	defer p.markApplied()
	defer p.markSequenced() // a handler that never said so is sequenced once handled
	large := d.dispatch == dispatchServe && d.api.LargeAnswers
	if large {
		defer func() { // after the recovery below: a panicked response has no frame
			if p.frame != nil {
				p.charged = len(*p.frame)
				c.unwritten.add(p.charged)
			}
		}()
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error().
				Str("api", kmsg.NameForKey(p.req.Key)).Int16("version", p.req.Version).
				Int32("correlation_id", p.req.CorrelationID).
				Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).
				Msg("request handler panicked; closing connection")
			c.srv.putBuffer(p.frame)
			p.frame, p.err, p.panicked = nil, errHandlerPanic, true
		}
	}()
	if large && !c.unwritten.waitTurn(c.ctx, p.after, maxUnwrittenPerConn) {
		p.err = c.ctx.Err() // the connection is closing
		return
	}
	if p.prior != nil {
		select {
		case <-p.prior:
		case <-c.ctx.Done():
			p.err = c.ctx.Err() // the connection is closing
			return
		}
	}
	var resp kmsg.Response
	switch d.dispatch {
	case dispatchServe:
		if finish != nil {
			resp, p.err = finish()
		} else {
			resp, p.err = d.api.Handle(c.ctx, &p.req)
		}
		if p.err != nil || resp == nil {
			return
		}
		if resp.Key() != p.req.Key {
			p.err = fmt.Errorf("handler answered a %s request with a %s response",
				kmsg.NameForKey(p.req.Key), kmsg.NameForKey(resp.Key()))
			return
		}
		resp.SetVersion(p.req.Version)
	case dispatchUnsupported:
		resp = c.srv.reg.table.Load().errorResponse(d.body, kerr.UnsupportedVersion.Code)
	case dispatchApiVersionsTooNew:
		resp = apiVersionsTooNewResponse()
	}
	buf := c.srv.getBuffer()
	if f, ok := resp.(*kmsg.FetchResponse); ok {
		if frame, pieces, size, ok := encodeFetchVectored(*buf, p.req.CorrelationID, f, c.srv.markerNonce); ok {
			*buf, p.frame, p.pieces, p.size = frame, buf, pieces, size
			p.errCode = topLevelErrorCode(resp)
			return
		}
	}
	if hint := frameSizeHint(resp); hint > cap(*buf) {
		c.srv.putBuffer(buf)
		buf = c.srv.getLargeBuffer(hint)
	}
	*buf = appendResponse(*buf, p.req.CorrelationID, resp)
	p.frame = buf
	p.errCode = topLevelErrorCode(resp)
}

// writeLoop writes responses in request order. It flushes whenever it would otherwise
// wait, so back-to-back responses share a syscall while a lone response goes out at
// once.
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, writeBufferSize)
	deadline := newIdleDeadline(c.srv.cfg.IdleTimeout, c.nc.SetWriteDeadline)
	for {
		var p *pending
		var ok bool
		select {
		case p, ok = <-c.queue:
		default:
			if !c.flush(bw) {
				return
			}
			p, ok = <-c.queue
		}
		if !ok {
			c.flush(bw)
			return
		}
		select {
		case <-p.done:
		default:
			if !c.flush(bw) {
				return
			}
			select {
			case <-p.done:
			case <-c.ctx.Done():
				return
			}
		}
		deadline.arm()
		if c.srv.shuttingDown.Load() {
			c.stopWriting() // after arm, which would push it back out (see stopWriting)
		}
		wrote := c.writeResponse(bw, p)
		c.unwritten.written(p.charged)
		if !wrote {
			c.flush(bw) // earlier responses still reach the client
			c.close()
			return
		}
		<-c.sem
	}
}

// writeResponse buffers p's encoded response (if it has one) into bw. It returns false
// when the connection must close.
func (c *conn) writeResponse(bw *bufio.Writer, p *pending) bool {
	obs := c.srv.obs
	if p.err != nil {
		if !p.panicked {
			ev := c.log.Warn()
			switch {
			case errors.Is(p.err, errAcksZeroFailed):
				ev = c.log.Info()
			case errors.Is(p.err, context.Canceled) && c.ctx.Err() != nil:
				// The connection closed (the client hung up) while the request was
				// handled: nothing failed that anyone will hear of.
				ev = c.log.Debug()
			}
			ev.Err(p.err).
				Str("api", kmsg.NameForKey(p.req.Key)).Int16("version", p.req.Version).
				Int32("correlation_id", p.req.CorrelationID).
				Msg("request handler failed; closing connection")
		}
		obs.RequestDone(p.req.Key, p.req.Version, time.Since(p.start), p.req.Size, 0, kerr.UnknownServerError.Code)
		return false
	}
	if p.frame == nil { // acks=0 Produce: the client expects no answer
		obs.RequestDone(p.req.Key, p.req.Version, time.Since(p.start), p.req.Size, 0, 0)
		return true
	}
	var err error
	size := len(*p.frame)
	if p.pieces != nil {
		// Earlier responses first, then one writev straight from the record buffers.
		if !c.flush(bw) {
			return false
		}
		size = p.size
		_, err = p.pieces.WriteTo(c.nc)
		p.pieces = nil
	} else {
		_, err = bw.Write(*p.frame)
	}
	c.srv.putBuffer(p.frame)
	p.frame = nil
	p.req.releaseResponseBuffers()
	if err != nil {
		c.logWriteError(err)
		return false
	}
	obs.RequestDone(p.req.Key, p.req.Version, time.Since(p.start), p.req.Size, size, p.errCode)
	return true
}

func (c *conn) flush(bw *bufio.Writer) bool {
	if bw.Buffered() == 0 {
		return true
	}
	if err := bw.Flush(); err != nil {
		c.logWriteError(err)
		c.close()
		return false
	}
	return true
}

func (c *conn) logWriteError(err error) {
	if c.ctx.Err() == nil {
		c.log.Debug().Err(err).Msg("write failed; closing connection")
	}
}
