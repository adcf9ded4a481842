package wire

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Incremental fetch sessions (KIP-227), as Kafka's FetchSession keeps them. A consumer
// of many partitions names them all once, in a full fetch that opens a session; after
// that each fetch names only the partitions whose fetch position or limits changed, and
// the response carries only the partitions with something new: records, a moved high
// watermark or log start, or an error. Without sessions every fetch named, and every
// response answered, every partition a consumer reads, whether or not anything moved.
//
// The session remembers each partition's request parameters and what the last response
// told the client about it. A partition that returned records moves to the end of the
// session's order, so that under the response's byte limit the others get their turn
// (Kafka does the same).

const (
	// defaultFetchSessionSlots is Kafka's max.incremental.fetch.session.cache.slots.
	defaultFetchSessionSlots = 1000
	// fetchSessionEvictAfter is Kafka's min.incremental.fetch.session.eviction.ms: a
	// session unused this long may be evicted by any new one, and one created this long
	// ago by a new one with more partitions.
	fetchSessionEvictAfter = 2 * time.Minute
	// maxSessionPartitions bounds the partitions all sessions hold together (about 250
	// bytes each, measured with short topic names; the node lowers it under a small
	// memory limit): a Fetch may name millions of partitions, and a thousand
	// sessions of them would otherwise keep that much memory. A full fetch that would
	// pass it gets no session; an incremental one that would, loses its session and
	// starts over with a full fetch.
	maxSessionPartitions = 1 << 20
	// sessionPartitionBytes is what a session partition holds, about 250 bytes
	// (measured with short topic names), and minSessionPartitions the bound however
	// little memory there is.
	sessionPartitionBytes = 256
	minSessionPartitions  = 1000
)

// sessionPartitionsFor is the partition bound that fits memory bytes (0: the default).
func sessionPartitionsFor(memory int64) int {
	if memory <= 0 {
		return maxSessionPartitions
	}
	return int(min(max(memory/sessionPartitionBytes, minSessionPartitions), maxSessionPartitions))
}

// sessionKey names a partition in a session: by topic id for Fetch v13+, by name before.
type sessionKey struct {
	topic     string
	topicID   [16]byte
	partition int32
}

// sessionPartition is one partition of a session.
type sessionPartition struct {
	key     sessionKey
	topic   string   // as the client named it (v12 and older)
	topicID [16]byte // as the client named it (v13 and newer)
	req     kmsg.FetchRequestTopicPartition

	// What the last response told the client; -1 means nothing yet, or an error since,
	// so that the next response carries the partition.
	highWatermark, logStart int64
}

type fetchSession struct {
	id      int32
	epoch   int32 // the epoch the next incremental fetch must carry
	usesIDs bool  // opened by Fetch v13+, whose partitions are named by topic id
	order   []*sessionPartition
	byKey   map[sessionKey]*sessionPartition
	created time.Time
	used    time.Time
}

// fetchSessions is the node's session cache.
type fetchSessions struct {
	mu            sync.Mutex
	slots         int // 0: sessions are off
	sessions      map[int32]*fetchSession
	partitions    int // held by all sessions together
	maxPartitions int // maxSessionPartitions unless configured; tests lower it
}

// newFetchSessions makes a cache of slots sessions (0: Kafka's 1000; negative: none)
// holding at most maxPartitions partitions together (0: maxSessionPartitions).
func newFetchSessions(slots, maxPartitions int) *fetchSessions {
	if slots == 0 {
		slots = defaultFetchSessionSlots
	}
	if maxPartitions <= 0 {
		maxPartitions = maxSessionPartitions
	}
	return &fetchSessions{slots: max(slots, 0), sessions: map[int32]*fetchSession{}, maxPartitions: maxPartitions}
}

// stats returns how many sessions the cache keeps and how many partitions they hold.
func (c *fetchSessions) stats() (sessions, partitions int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions), c.partitions
}

// sessionFetch is what a Fetch request means once its session is taken into account.
type sessionFetch struct {
	// topics are the partitions to read, in the order the response lists them: the
	// request's own for a full fetch, the session's for an incremental one.
	topics []kmsg.FetchRequestTopic
	// code is a top-level error (no session, wrong epoch): answer it and read nothing.
	code int16
	// create: a full fetch that asks for a session; open one from the response.
	create bool
	// session is the incremental fetch's session and expect the epoch it moved to.
	session *fetchSession
	expect  int32
}

// begin resolves a Fetch v7+ request against the cache (Kafka's FetchManager.newContext).
func (c *fetchSessions) begin(req *kmsg.FetchRequest, now time.Time) sessionFetch {
	usesIDs := req.Version >= 13
	c.mu.Lock()
	defer c.mu.Unlock()
	if fullFetch(req.SessionEpoch) {
		// Any session a full fetch names is closed; epoch 0 asks for a new one.
		if s := c.sessions[req.SessionID]; s != nil {
			c.drop(s)
		}
		return sessionFetch{topics: req.Topics, create: req.SessionEpoch == 0 && c.slots > 0}
	}
	s := c.sessions[req.SessionID]
	switch {
	case s == nil:
		return sessionFetch{code: kerr.FetchSessionIDNotFound.Code}
	case s.epoch != req.SessionEpoch:
		return sessionFetch{code: kerr.InvalidFetchSessionEpoch.Code}
	case s.usesIDs != usesIDs:
		// The session names its topics one way, this request the other.
		return sessionFetch{code: kerr.FetchSessionTopicIDError.Code}
	}
	before := len(s.order)
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		for pi := range rt.Partitions {
			rp := rt.Partitions[pi]
			key := newSessionKey(usesIDs, rt.Topic, rt.TopicID, rp.Partition)
			if p := s.byKey[key]; p != nil {
				p.req = rp
				continue
			}
			p := &sessionPartition{key: key, topic: rt.Topic, topicID: rt.TopicID, req: rp, highWatermark: -1, logStart: -1}
			s.byKey[key] = p
			s.order = append(s.order, p)
		}
	}
	var forgotten map[*sessionPartition]bool // made only when there are any
	if len(req.ForgottenTopics) > 0 {
		forgotten = map[*sessionPartition]bool{}
	}
	for _, ft := range req.ForgottenTopics {
		for _, part := range ft.Partitions {
			key := newSessionKey(usesIDs, ft.Topic, ft.TopicID, part)
			if p := s.byKey[key]; p != nil {
				delete(s.byKey, key)
				forgotten[p] = true
			}
		}
	}
	s.order = s.without(forgotten)
	c.partitions += len(s.order) - before
	switch {
	case len(s.order) == 0:
		// Nothing left to fetch: Kafka closes the session and answers sessionless.
		c.drop(s)
		return sessionFetch{}
	case c.partitions > c.maxPartitions:
		c.drop(s)
		return sessionFetch{code: kerr.FetchSessionIDNotFound.Code}
	}
	s.used = now
	s.epoch = nextSessionEpoch(s.epoch)
	return sessionFetch{topics: s.requestTopics(), session: s, expect: s.epoch}
}

// open creates a session from a full fetch's request and response and returns its id, or
// 0 when the cache has no room (the client then keeps sending full fetches).
func (c *fetchSessions) open(req *kmsg.FetchRequest, resp *kmsg.FetchResponse, now time.Time) int32 {
	usesIDs := req.Version >= 13
	s := &fetchSession{usesIDs: usesIDs, byKey: map[sessionKey]*sessionPartition{}, created: now, used: now, epoch: nextSessionEpoch(0)}
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		st := &resp.Topics[ti]
		for pi := range rt.Partitions {
			key := newSessionKey(usesIDs, rt.Topic, rt.TopicID, rt.Partitions[pi].Partition)
			if s.byKey[key] != nil {
				continue // named twice: the first one counts
			}
			p := &sessionPartition{key: key, topic: rt.Topic, topicID: rt.TopicID, req: rt.Partitions[pi]}
			p.remember(&st.Partitions[pi])
			s.byKey[key] = p
			s.order = append(s.order, p)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.partitions+len(s.order) > c.maxPartitions || (len(c.sessions) >= c.slots && !c.evictFor(len(s.order), now)) {
		return 0
	}
	for s.id == 0 || c.sessions[s.id] != nil {
		s.id = rand.Int32N(math.MaxInt32-1) + 1
	}
	c.sessions[s.id] = s
	c.partitions += len(s.order)
	return s.id
}

// drop removes s from the cache. Callers hold mu.
func (c *fetchSessions) drop(s *fetchSession) {
	delete(c.sessions, s.id)
	c.partitions -= len(s.order)
}

// evictFor makes room for a new session of size partitions, as Kafka's tryEvict does: the
// least recently used session if it has gone unused for fetchSessionEvictAfter, else the
// smallest session older than that if the new one is larger. Callers hold mu.
func (c *fetchSessions) evictFor(size int, now time.Time) bool {
	var lru, smallest *fetchSession
	for _, s := range c.sessions {
		if lru == nil || s.used.Before(lru.used) {
			lru = s
		}
		if now.Sub(s.created) > fetchSessionEvictAfter && (smallest == nil || len(s.order) < len(smallest.order)) {
			smallest = s
		}
	}
	switch {
	case lru != nil && now.Sub(lru.used) > fetchSessionEvictAfter:
		c.drop(lru)
	case smallest != nil && size > len(smallest.order):
		c.drop(smallest)
	default:
		return false
	}
	return true
}

// finish trims an incremental fetch's response to the partitions the client must hear
// about and remembers what it was told (Kafka's IncrementalFetchContext). It returns
// false when another fetch on the session came in meanwhile (a duplicate request): the
// response is then INVALID_FETCH_SESSION_EPOCH, as Kafka answers it.
func (c *fetchSessions) finish(f sessionFetch, resp *kmsg.FetchResponse) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := f.session
	if c.sessions[s.id] != s || s.epoch != f.expect {
		return false
	}
	var moved []*sessionPartition
	kept := resp.Topics[:0]
	for ti := range resp.Topics {
		st := resp.Topics[ti]
		parts := st.Partitions[:0]
		for pi := range st.Partitions {
			sp := &st.Partitions[pi]
			p := s.byKey[newSessionKey(s.usesIDs, st.Topic, st.TopicID, sp.Partition)]
			if p == nil || !p.remember(sp) {
				continue
			}
			parts = append(parts, *sp)
			if len(sp.RecordBatches) > 0 {
				moved = append(moved, p)
			}
		}
		if len(parts) > 0 {
			st.Partitions = parts
			kept = append(kept, st)
		}
	}
	resp.Topics = kept
	// Partitions that returned records go to the back of the line, in the order they
	// were answered.
	if len(moved) > 0 {
		back := make(map[*sessionPartition]bool, len(moved))
		for _, p := range moved {
			back[p] = true
		}
		s.order = append(s.without(back), moved...)
	}
	return true
}

// remember records what a response tells the client about p and reports whether the
// response must carry p: it has records, an error, or a high watermark or log start the
// client has not been told.
func (p *sessionPartition) remember(sp *kmsg.FetchResponseTopicPartition) bool {
	tell := len(sp.RecordBatches) > 0 || sp.HighWatermark != p.highWatermark || sp.LogStartOffset != p.logStart
	p.highWatermark, p.logStart = sp.HighWatermark, sp.LogStartOffset
	if sp.ErrorCode != 0 {
		// Told again once the error is gone.
		p.highWatermark, tell = -1, true
	}
	return tell
}

// without returns the session's order less the partitions in drop, in one pass (a
// fetch may move or forget many of a large session's partitions).
func (s *fetchSession) without(drop map[*sessionPartition]bool) []*sessionPartition {
	if len(drop) == 0 {
		return s.order
	}
	kept := s.order[:0]
	for _, p := range s.order {
		if !drop[p] {
			kept = append(kept, p)
		}
	}
	clear(s.order[len(kept):])
	return kept
}

// requestTopics lists the session's partitions as a full fetch would, in the session's
// order, consecutive partitions of one topic under one topic entry.
func (s *fetchSession) requestTopics() []kmsg.FetchRequestTopic {
	var topics []kmsg.FetchRequestTopic
	for _, p := range s.order {
		if n := len(topics); n == 0 || topics[n-1].Topic != p.topic || topics[n-1].TopicID != p.topicID {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = p.topic, p.topicID
			topics = append(topics, t)
		}
		t := &topics[len(topics)-1]
		t.Partitions = append(t.Partitions, p.req)
	}
	return topics
}

func newSessionKey(usesIDs bool, topic string, id [16]byte, partition int32) sessionKey {
	if usesIDs {
		return sessionKey{topicID: id, partition: partition}
	}
	return sessionKey{topic: topic, partition: partition}
}

// nextSessionEpoch is the epoch after e, wrapping past the largest to 1 (Kafka's
// FetchMetadata.nextEpoch).
func nextSessionEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}
