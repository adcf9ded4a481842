package wire

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionRequest is a Fetch v12 request naming partitions of topic "t" at offset 0.
func sessionRequest(id, epoch int32, parts ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.SessionID, req.SessionEpoch = 12, id, epoch
	if len(parts) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "t"
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = []kmsg.FetchRequestTopic{rt}
	}
	return req
}

// sessionResponse answers topics the way the handler does: same order, every partition
// at high watermark hw, those in withRecords carrying a record.
func sessionResponse(topics []kmsg.FetchRequestTopic, hw int64, withRecords ...int32) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	for _, rt := range topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition, sp.HighWatermark, sp.LogStartOffset = rp.Partition, hw, 0
			for _, p := range withRecords {
				if p == rp.Partition {
					sp.RecordBatches = []byte{1}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func sessionOrder(f sessionFetch) []int32 {
	var order []int32
	for _, t := range f.topics {
		for _, p := range t.Partitions {
			order = append(order, p.Partition)
		}
	}
	return order
}

// Partitions that returned records go to the back of the session's order, so that under
// the response's byte limit the others are read first next time, as in Kafka.
func TestFetchSessionRotatesPartitionsThatReturnedRecords(t *testing.T) {
	c := newFetchSessions(0, 0)
	now := time.Unix(1000, 0)
	req := sessionRequest(0, 0, 0, 1, 2, 3)
	id := c.open(req, sessionResponse(req.Topics, 5), now)
	if id == 0 {
		t.Fatal("no session opened")
	}
	f := c.begin(sessionRequest(id, 1), now)
	if got := sessionOrder(f); len(got) != 4 || got[0] != 0 || got[3] != 3 {
		t.Fatalf("session order %v, want 0 1 2 3", got)
	}
	resp := sessionResponse(f.topics, 5, 0, 2)
	if !c.finish(f, resp) {
		t.Fatal("finish refused the session's own fetch")
	}
	if n := len(resp.Topics[0].Partitions); n != 2 {
		t.Fatalf("incremental response carries %d partitions, want the 2 with records", n)
	}
	f = c.begin(sessionRequest(id, 2), now)
	if got := sessionOrder(f); got[0] != 1 || got[1] != 3 || got[2] != 0 || got[3] != 2 {
		t.Fatalf("session order after 0 and 2 returned records: %v, want 1 3 0 2", got)
	}
}

// A full cache makes room as Kafka's does: for anyone, by a session unused for the
// eviction time; else for a larger session, by the smallest one older than that; else
// the new session is not made and the client goes on with full fetches.
func TestFetchSessionCacheEviction(t *testing.T) {
	c := newFetchSessions(2, 0)
	t0 := time.Unix(1000, 0)
	open := func(at time.Time, parts ...int32) int32 {
		req := sessionRequest(0, 0, parts...)
		return c.open(req, sessionResponse(req.Topics, 0), at)
	}
	small, big := open(t0, 0), open(t0, 0, 1, 2)
	if small == 0 || big == 0 {
		t.Fatal("sessions not opened with room in the cache")
	}
	if id := open(t0.Add(time.Second), 0, 1); id != 0 {
		t.Fatal("a full cache of fresh sessions made room")
	}
	// Both are older than the eviction time now, and still in use: a new session larger
	// than the smallest takes its place.
	later := t0.Add(fetchSessionEvictAfter + time.Second)
	for _, id := range []int32{small, big} {
		c.begin(sessionRequest(id, 1), later)
	}
	if id := open(later, 0); id != 0 {
		t.Fatal("a session no larger than any evicted one")
	}
	mid := open(later, 0, 1)
	if mid == 0 || c.sessions[small] != nil || c.sessions[big] == nil {
		t.Fatalf("a larger session did not take the smallest one's place: new %d, cache %v", mid, c.sessions)
	}
	// Unused for the eviction time: evicted by anyone.
	stale := later.Add(fetchSessionEvictAfter + time.Second)
	c.begin(sessionRequest(mid, 1), stale)
	if id := open(stale, 0); id == 0 || c.sessions[big] != nil {
		t.Fatal("a stale session was not evicted for a new one")
	}
}

// FuzzFetchSessionSequence drives one session cache with arbitrary sequences of full and
// incremental fetches (right and wrong epochs, partitions added and forgotten, responses
// with and without records): no panic, an incremental fetch reads each of its session's
// partitions exactly once, its trimmed response holds only session partitions, and the
// counts the metrics read agree with the sessions.
func FuzzFetchSessionSequence(f *testing.F) {
	f.Add([]byte{0, 3, 1, 0, 2, 5, 3, 1, 1, 0})
	f.Add([]byte{0, 7, 1, 1, 0, 1, 2, 4, 2, 1, 1, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		c := newFetchSessions(3, 0)
		now := time.Unix(1000, 0)
		next := func() byte {
			if len(ops) == 0 {
				return 0
			}
			b := ops[0]
			ops = ops[1:]
			return b
		}
		var ids []int32
		epochs := map[int32]int32{}
		for len(ops) > 0 {
			now = now.Add(time.Duration(next()) * time.Second)
			switch next() % 3 {
			case 0: // a full fetch opening a session over a set of partitions
				mask := next()
				var parts []int32
				for p := int32(0); p < 8; p++ {
					if mask&(1<<p) != 0 {
						parts = append(parts, p)
					}
				}
				req := sessionRequest(0, 0, parts...)
				if sf := c.begin(req, now); !sf.create || sf.code != 0 {
					t.Fatalf("full fetch with epoch 0: %+v", sf)
				}
				if id := c.open(req, sessionResponse(req.Topics, int64(next())), now); id != 0 {
					ids, epochs[id] = append(ids, id), 1
				}
			case 1, 2: // an incremental fetch on a known session
				if len(ids) == 0 {
					continue
				}
				id := ids[int(next())%len(ids)]
				epoch := epochs[id]
				if next()%4 == 0 {
					epoch++ // a wrong one
				}
				req := sessionRequest(id, epoch, int32(next()%8))
				if forget := next(); forget%2 == 0 {
					ft := kmsg.NewFetchRequestForgottenTopic()
					ft.Topic, ft.Partitions = "t", []int32{int32(forget % 8), int32(forget / 8 % 8)}
					req.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{ft}
				}
				sf := c.begin(req, now)
				if sf.code != 0 || sf.session == nil {
					continue
				}
				epochs[id] = sf.expect
				seen := map[int32]bool{}
				for _, p := range sessionOrder(sf) {
					if seen[p] {
						t.Fatalf("session %d reads partition %d twice: %v", id, p, sessionOrder(sf))
					}
					seen[p] = true
				}
				if len(seen) != len(sf.session.order) {
					t.Fatalf("session %d reads %d partitions, holds %d", id, len(seen), len(sf.session.order))
				}
				resp := sessionResponse(sf.topics, int64(next()%4), int32(next()%8))
				if !c.finish(sf, resp) {
					t.Fatalf("finish refused session %d's own fetch", id)
				}
				for _, rt := range resp.Topics {
					for _, rp := range rt.Partitions {
						if !seen[rp.Partition] {
							t.Fatalf("session %d answered partition %d it does not hold", id, rp.Partition)
						}
					}
				}
			}
		}
		sessions, partitions := c.stats()
		held := 0
		for _, s := range c.sessions {
			held += len(s.order)
			if len(s.order) != len(s.byKey) {
				t.Fatalf("session %d: %d partitions in order, %d by key", s.id, len(s.order), len(s.byKey))
			}
		}
		if sessions != len(c.sessions) || partitions != held || sessions > 3 {
			t.Fatalf("stats %d sessions, %d partitions; cache holds %d with %d (at most 3)", sessions, partitions, len(c.sessions), held)
		}
	})
}

// The partitions all sessions hold are bounded: a full fetch that would pass the bound
// gets no session, and an incremental fetch that would loses its session (the client
// starts over with a full fetch).
func TestFetchSessionsBoundTheirPartitions(t *testing.T) {
	c := newFetchSessions(0, 5)
	now := time.Unix(1000, 0)
	open := func(parts ...int32) int32 {
		req := sessionRequest(0, 0, parts...)
		return c.open(req, sessionResponse(req.Topics, 0), now)
	}
	first := open(0, 1, 2)
	if first == 0 {
		t.Fatal("no session within the bound")
	}
	if id := open(0, 1, 2); id != 0 {
		t.Fatal("a session past the bound was opened")
	}
	if f := c.begin(sessionRequest(first, 1, 3, 4, 5), now); f.code != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("an incremental fetch past the bound: %+v, want FETCH_SESSION_ID_NOT_FOUND", f)
	}
	if s, p := c.stats(); s != 0 || p != 0 {
		t.Fatalf("after dropping the session: %d sessions, %d partitions", s, p)
	}
	if id := open(0, 1, 2, 3, 4); id == 0 {
		t.Fatal("no session once the bound has room again")
	}
}

// The sessions' partition bound fits the memory the node gives them, between 1,000
// partitions and the default bound.
func TestSessionPartitionsFitTheirMemory(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		memory int64
		want   int
	}{
		{0, maxSessionPartitions},         // no bound given
		{50 * MiB, 204800},                // a 400 MiB container's eighth
		{128 * MiB, 524288},               // a 1 GiB container's
		{512 * MiB, maxSessionPartitions}, // a 4 GiB container's: the default bound
		{100 << 10, minSessionPartitions},
	} {
		if got := sessionPartitionsFor(c.memory); got != c.want {
			t.Errorf("%d bytes: %d partitions, want %d", c.memory, got, c.want)
		}
	}
}
