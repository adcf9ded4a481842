package groups

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestRandomOperationsAnswerEveryRequestOnce drives groups with random clients (dynamic
// and static, joining, syncing, heartbeating, leaving, going silent) and checks the
// invariants after every step (harness.collect), then lets every session expire: each
// JoinGroup and SyncGroup must have been answered exactly once, and the group must end
// empty.
func TestRandomOperationsAnswerEveryRequestOnce(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomRun(t, rand.New(rand.NewPCG(seed, seed*7919))) })
	}
}

type simClient struct {
	memberID   string
	instance   *string
	generation int32
	leader     bool
}

// FuzzGroupOperations runs the same checks with the operations chosen by the fuzzer's
// bytes.
func FuzzGroupOperations(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("join sync heartbeat leave commit advance"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		randomRun(t, rand.New(&byteSource{b: ops}))
	})
}

// byteSource turns fuzz input into random numbers; once it runs out it continues with a
// splitmix64 sequence (an all-zero source would make rand's rejection sampling loop
// forever).
type byteSource struct {
	b     []byte
	i     int
	state uint64
}

func (s *byteSource) Uint64() uint64 {
	if s.i+8 <= len(s.b) {
		v := uint64(0)
		for _, c := range s.b[s.i : s.i+8] {
			v = v<<8 | uint64(c)
		}
		s.i += 8
		s.state ^= v
		return v
	}
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func randomRun(t *testing.T, rng *rand.Rand) {
	h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = time.Duration(rng.IntN(3)) * time.Second })
	clients := make([]*simClient, 5)
	for i := range clients {
		clients[i] = &simClient{generation: -1}
		if i%2 == 1 {
			inst := fmt.Sprintf("inst-%d", i)
			clients[i].instance = &inst
		}
	}
	var issued []string
	n := 0
	waiter := func() string { n++; w := fmt.Sprintf("w%d", n); issued = append(issued, w); return w }
	learn := func(c *simClient, w string) {
		if rs := h.replies[w]; len(rs) == 1 && rs[0].Join != nil && rs[0].Join.Code == 0 {
			c.memberID, c.generation, c.leader = rs[0].Join.MemberID, rs[0].Join.Generation, rs[0].Join.LeaderID == rs[0].Join.MemberID
		} else if len(rs) == 1 && rs[0].Join != nil && rs[0].Join.Code == kerr.MemberIDRequired.Code {
			c.memberID = rs[0].Join.MemberID
		}
	}
	for step := 0; step < 120; step++ {
		c := clients[rng.IntN(len(clients))]
		switch op := rng.IntN(10); {
		case op < 3:
			req := joinReq(c.memberID)
			req.InstanceID = c.instance
			req.RequireKnownMemberID = rng.IntN(4) != 0
			req.SupportsSkipAssignment = rng.IntN(2) == 0
			if rng.IntN(5) == 0 {
				req.Protocols = req.Protocols[1:] // roundrobin only
			}
			w := waiter()
			h.join(w, req)
			learn(c, w)
		case op < 5:
			req := SyncRequest{MemberID: c.memberID, InstanceID: c.instance, Generation: c.generation}
			if c.leader {
				for _, m := range h.g.Describe().Members {
					req.Assignments = append(req.Assignments, Assignment{MemberID: m.MemberID, Assignment: []byte(m.MemberID)})
				}
			}
			h.sync(waiter(), req)
		case op < 7:
			h.g.Heartbeat(h.now, MemberRef{MemberID: c.memberID, InstanceID: c.instance, Generation: c.generation})
		case op < 8:
			_, out := h.g.Leave(h.now, []MemberRef{{MemberID: c.memberID, InstanceID: c.instance}})
			h.collect(out)
			c.memberID, c.generation = "", -1
		case op < 9:
			h.g.CheckCommit(h.now, MemberRef{MemberID: c.memberID, InstanceID: c.instance, Generation: c.generation})
		default:
			h.runUntil(h.now.Add(time.Duration(rng.IntN(15000)) * time.Millisecond))
		}
		// Learn the answers to earlier joins that completed in this step.
		for _, w := range issued {
			if rs := h.replies[w]; len(rs) == 1 && rs[0].Join != nil && rs[0].Join.Code == 0 {
				for _, cl := range clients {
					if cl.memberID == rs[0].Join.MemberID {
						learn(cl, w)
					}
				}
			}
		}
	}
	h.runUntil(h.now.Add(time.Hour))
	for _, w := range issued {
		if len(h.replies[w]) != 1 {
			t.Fatalf("request %s answered %d times (events %v)", w, len(h.replies[w]), h.events)
		}
	}
	if h.g.State() != Empty || len(h.g.members) != 0 || len(h.g.pending) != 0 {
		t.Fatalf("after every session expired: state %s members %d pending %d", h.g.State(), len(h.g.members), len(h.g.pending))
	}
	if _, ok := h.g.NextDeadline(); ok {
		t.Fatal("an empty group still has a timer")
	}
}
