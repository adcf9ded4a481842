package wire

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Request is one decoded Kafka request.
type Request struct {
	Key, Version  int16
	CorrelationID int32
	ClientID      string       // a null client id reads as ""
	Body          kmsg.Request // decoded at Version
	Conn          ConnInfo     // the connection the request arrived on
	Size          int          // request bytes on the wire, including the 4-byte size prefix

	frame    []byte          // the bytes Body was decoded from
	pool     *framePool      // where ReleaseFrame returns frame
	draining <-chan struct{} // the server's: closed when it starts shutting down

	// afterWrite are buffers the response refers to (Fetch records) that go back to pool
	// once the response is written; if it never is (the connection closed first), the
	// garbage collector takes them.
	afterWrite [][]byte

	// hold is the connection's account of the server's fetch budget (nil outside a
	// server); reserved is what this request holds of it (see Reserve).
	hold     *fetchHold
	reserved int64

	// sequenced is the connection's hook for Sequenced (nil outside a connection).
	sequenced func()
}

// Sequenced tells the connection that an InOrder request's effect now has its place in
// the order of changes (its Raft proposal has been submitted behind the earlier ones), so
// the connection's next InOrder request may start while this one still waits to be
// applied. Reads behind it still wait until it is answered. Handlers that never call it
// hold the next change back until they are answered. Safe to call more than once.
func (r *Request) Sequenced() {
	if r.sequenced != nil {
		r.sequenced()
	}
}

// Buffer returns a buffer of length n with undefined contents, from the server's pool
// when buffers that big are pooled. Hand it back with ReleaseBuffer or
// ReleaseAfterResponse, or leave it to the garbage collector. Safe for concurrent use:
// Fetch's partition actors call it.
func (r *Request) Buffer(n int) []byte {
	if b := r.pool.get(n); b != nil {
		return b
	}
	return make([]byte, n, frameCapacity(n))
}

// ReleaseBuffer hands back a buffer from Buffer that nothing refers to any more.
func (r *Request) ReleaseBuffer(b []byte) { r.pool.put(b) }

// ReleaseAfterResponse hands back b, from Buffer, once the response that refers to it has
// been written to the connection. Call it from the handler only.
func (r *Request) ReleaseAfterResponse(b []byte) {
	if cap(b) > 0 {
		r.afterWrite = append(r.afterWrite, b)
	}
}

// releaseResponseBuffers runs once the response is written: its buffers and its share of
// the fetch budget go back.
func (r *Request) releaseResponseBuffers() {
	for _, b := range r.afterWrite {
		r.pool.put(b)
	}
	r.afterWrite = nil
	r.Unreserve(int(r.reserved))
}

// ReleaseFrame gives the request's frame, the bytes Body was decoded from, back to the
// server for a later request. Call it only when nothing holds a slice of Body's byte
// fields (records, for example) and nothing will, and only once; until then, or without
// it, the server never reuses the frame.
func (r *Request) ReleaseFrame() {
	if r.frame != nil {
		r.pool.put(r.frame)
		r.frame = nil
	}
}

// Draining is closed when the server starts shutting down. A handler that is only
// waiting for something that may never come (a long-poll fetch short of MinBytes)
// answers with what it has then, as Kafka does, instead of holding the shutdown for up
// to the client's MaxWaitMillis. Nil (never closed) for a request built outside a server.
func (r *Request) Draining() <-chan struct{} { return r.draining }

// ConnInfo identifies the connection a request arrived on.
type ConnInfo struct {
	ID         uint64 // unique per Server, starting at 1
	RemoteAddr string
	LocalAddr  string
}

// A Handler answers one request. A nil response with nil error means "send nothing"
// (Produce with acks=0). An error closes the connection (logged).
//
// The response must be of req.Key's kind; the server sets its version to req.Version.
// req.Body may reference the request's frame bytes (Produce records, for example); the
// server does not reuse a frame unless the handler calls req.ReleaseFrame, so handlers
// may keep those slices.
//
// ctx is cancelled when the connection closes (client gone, protocol error, or a
// Shutdown that ran out of time); a graceful Shutdown lets handlers finish.
type Handler func(ctx context.Context, req *Request) (kmsg.Response, error)

// An API is one Kafka request kind the node serves, over a version range.
type API struct {
	Key        int16
	MinVersion int16
	MaxVersion int16
	Handle     Handler
	// Begin, when set, replaces Handle: it is called on the connection's reader goroutine,
	// in request order and before the next request is read, and returns the function that
	// completes the request on its own goroutine. Requests run concurrently, so this is
	// how an API keeps a connection's requests ordered where Kafka promises it: a
	// producer's batches must reach a partition in the order they were sent. Begin must
	// only start work (send messages), never wait for it.
	Begin func(ctx context.Context, req *Request) func() (kmsg.Response, error)
	// Error builds this API's response to req carrying code everywhere a client looks
	// (top-level and per topic/partition), used when the node cannot serve the request.
	// Optional: when nil the generic builder ErrorResponse is used.
	Error func(req kmsg.Request, code int16) kmsg.Response
	// LargeAnswers marks an API whose answer can be far larger than its request, growing
	// with the cluster's topics, groups or configs rather than with what the request
	// names (Metadata of every topic, say). A connection handles such requests one at a
	// time, in order, and only while less than maxUnwrittenPerConn of their answers wait
	// for the client to read them (see unwrittenResponses).
	LargeAnswers bool
	// InOrder marks an API whose requests on one connection must take effect in the order
	// they were sent, as every request does on a Kafka broker: a connection handles such
	// requests one at a time, each once the previous one of them has been answered. The
	// changes are: a client's OffsetCommit it gave up waiting for may still be on the
	// wire ahead of its next, and handled concurrently the older, lower offset could be
	// stored last; an admin client's DeleteTopics sent right after its CreateTopics could
	// run first and find no topic. Any request read after an InOrder one is handled after
	// it, so reads pipelined behind a change see it.
	InOrder bool
}

// A Registry holds the APIs a Server serves. It is safe for concurrent use: APIs may be
// added while the server runs, and the ApiVersions answer always reflects the current set.
type Registry struct {
	mu    sync.Mutex // serialises Add; readers use table without locking
	table atomic.Pointer[apiTable]
}

// apiTable is an immutable snapshot of the registry, replaced wholesale on Add so the
// per-request lookup is a lock-free load.
type apiTable struct {
	byKey    []*API                           // index is the API key; nil where unregistered
	versions []kmsg.ApiVersionsResponseApiKey // sorted by key, for ApiVersions
}

func (t *apiTable) lookup(key int16) *API {
	if key < 0 || int(key) >= len(t.byKey) {
		return nil
	}
	return t.byKey[key]
}

// NewRegistry returns a registry serving apis plus the built-in ApiVersions (v0–v4).
// It rejects duplicate keys (ApiVersions included), keys kmsg does not know, and
// version ranges that are empty, negative or beyond what kmsg can decode.
func NewRegistry(apis ...API) (*Registry, error) {
	r := &Registry{}
	r.table.Store(&apiTable{})
	builtin := API{
		Key:        apiVersionsKey,
		MinVersion: 0,
		MaxVersion: apiVersionsMaxVersion,
		Handle:     r.handleApiVersions,
	}
	if err := r.Add(builtin); err != nil {
		return nil, fmt.Errorf("register built-in ApiVersions: %w", err)
	}
	for _, api := range apis {
		if err := r.Add(api); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers one more API.
func (r *Registry) Add(api API) error {
	if err := validateAPI(api); err != nil {
		return fmt.Errorf("register %s (key %d) v%d-v%d: %w",
			kmsg.NameForKey(api.Key), api.Key, api.MinVersion, api.MaxVersion, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.table.Load()
	if old.lookup(api.Key) != nil {
		return fmt.Errorf("register %s (key %d): %w", kmsg.NameForKey(api.Key), api.Key, errDuplicateAPI)
	}
	next := &apiTable{
		byKey:    make([]*API, max(len(old.byKey), int(api.Key)+1)),
		versions: make([]kmsg.ApiVersionsResponseApiKey, 0, len(old.versions)+1),
	}
	copy(next.byKey, old.byKey)
	stored := api
	next.byKey[api.Key] = &stored
	for _, a := range next.byKey {
		if a == nil {
			continue
		}
		v := kmsg.NewApiVersionsResponseApiKey()
		v.ApiKey, v.MinVersion, v.MaxVersion = a.Key, a.MinVersion, a.MaxVersion
		next.versions = append(next.versions, v)
	}
	r.table.Store(next)
	return nil
}

var errDuplicateAPI = errors.New("already registered (ApiVersions is built in)")

func validateAPI(api API) error {
	if api.Handle == nil && api.Begin == nil {
		return errors.New("neither Handle nor Begin")
	}
	kreq := kmsg.RequestForKey(api.Key)
	if kreq == nil {
		return errors.New("key unknown to kmsg")
	}
	if api.MinVersion < 0 || api.MaxVersion < api.MinVersion {
		return errors.New("empty or negative version range")
	}
	if api.MaxVersion > kreq.MaxVersion() {
		return fmt.Errorf("max version beyond kmsg's v%d", kreq.MaxVersion())
	}
	return nil
}

// Lookup returns the API registered for key.
func (r *Registry) Lookup(key int16) (API, bool) {
	if a := r.table.Load().lookup(key); a != nil {
		return *a, true
	}
	return API{}, false
}

// Versions returns the key ranges the registry serves, sorted by key, as ApiVersions
// advertises them.
func (r *Registry) Versions() []kmsg.ApiVersionsResponseApiKey {
	return slices.Clone(r.table.Load().versions)
}

// ErrorResponse builds req's response carrying code, with the registered API's Error
// builder when it has one and the generic ErrorResponse otherwise.
func (r *Registry) ErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	return r.table.Load().errorResponse(req, code)
}

func (t *apiTable) errorResponse(req kmsg.Request, code int16) kmsg.Response {
	if a := t.lookup(req.Key()); a != nil && a.Error != nil {
		if resp := a.Error(req, code); resp != nil {
			resp.SetVersion(req.GetVersion())
			return resp
		}
	}
	return ErrorResponse(req, code)
}
