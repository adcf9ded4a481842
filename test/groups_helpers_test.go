package test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupConfig lets tests use short session timeouts so failures are detected quickly.
const groupConfig nodeConfig = `group.min.session.timeout.ms = 200`

// Group timings of the test consumers: failures are noticed within sessionTimeout.
const (
	sessionTimeout   = 1500 * time.Millisecond
	heartbeatEvery   = 100 * time.Millisecond
	rebalanceTimeout = 5 * time.Second
)

// debugGroup is the part of /debug/groups the tests read.
type debugGroup struct {
	Group      string `json:"group"`
	State      string `json:"state"`
	Protocol   string `json:"protocol"`
	Generation int32  `json:"generation"`
	Members    []struct {
		MemberID   string             `json:"member_id"`
		InstanceID string             `json:"instance_id"`
		ClientID   string             `json:"client_id"`
		Assignment map[string][]int32 `json:"assignment"`
	} `json:"members"`
	Offsets []struct {
		Topic           string `json:"topic"`
		Partition       int32  `json:"partition"`
		CommittedOffset int64  `json:"committed_offset"`
		HighWatermark   int64  `json:"high_watermark"`
		Lag             int64  `json:"lag"`
	} `json:"offsets"`
	TotalLag int64 `json:"total_lag"`
}

func (n *node) group(name string) (debugGroup, bool) {
	n.t.Helper()
	var body struct {
		Groups []debugGroup `json:"groups"`
	}
	n.debugJSON("/debug/groups", &body)
	for _, g := range body.Groups {
		if g.Group == name {
			return g, true
		}
	}
	return debugGroup{}, false
}

// stableWith reports whether the group is stable with exactly members members whose
// assignments cover the topic's partitions exactly once, each member holding some.
func (n *node) stableWith(group, topic string, members, partitions int) bool {
	g, ok := n.group(group)
	if !ok || g.State != "Stable" || len(g.Members) != members {
		return false
	}
	seen := map[int32]bool{}
	for _, m := range g.Members {
		if len(m.Assignment[topic]) == 0 {
			return false
		}
		for _, p := range m.Assignment[topic] {
			if seen[p] {
				return false
			}
			seen[p] = true
		}
	}
	return len(seen) == partitions
}

// ledger records which consumer saw each record, by record value.
type ledger struct {
	mu   sync.Mutex
	seen map[string][]string
}

func newLedger() *ledger { return &ledger{seen: map[string][]string{}} }

func (l *ledger) add(member string, r *kgo.Record) {
	l.mu.Lock()
	l.seen[string(r.Value)] = append(l.seen[string(r.Value)], member)
	l.mu.Unlock()
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// duplicates lists values consumed more than once, with who consumed them.
func (l *ledger) duplicates() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for v, who := range l.seen {
		if len(who) > 1 {
			out = append(out, fmt.Sprintf("%s by %v", v, who))
		}
	}
	slices.Sort(out)
	return out
}

// groupMember is a kgo group consumer that records what it polls. It blocks rebalances
// while it handles a poll, so with autocommit every record it saw is committed before
// its partitions move: with nobody failing, each record is consumed exactly once.
type groupMember struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	polled atomic.Int64
}

func startGroupMember(t *testing.T, n *node, group, topic, name string, l *ledger, opts ...kgo.Opt) *groupMember {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(n.kafkaAddr), kgo.ClientID(name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(heartbeatEvery), kgo.RebalanceTimeout(rebalanceTimeout),
		kgo.AutoCommitInterval(100 * time.Millisecond), kgo.BlockRebalanceOnPoll(), kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.MetadataMinAge(50 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &groupMember{name: name, cl: cl, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, 500)
			fs.EachRecord(func(r *kgo.Record) {
				l.add(name, r)
				m.polled.Add(1)
			})
			cl.AllowRebalance()
		}
	}()
	t.Cleanup(m.close)
	return m
}

// close stops polling, commits what was polled and leaves the group.
func (m *groupMember) close() {
	select {
	case <-m.done:
		return
	default:
	}
	m.cancel()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = m.cl.CommitUncommittedOffsets(ctx)
	m.cl.Close()
}

// producer produces numbered records at a steady pace until stopped.
type producer struct {
	cl       *kgo.Client
	stop     chan struct{}
	done     chan struct{}
	produced atomic.Int64
	err      atomic.Pointer[error]
}

func startProducer(t *testing.T, n *node, topic string) *producer {
	p := &producer{
		cl:   n.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			var batch []*kgo.Record
			for j := 0; j < 10; j++ {
				batch = append(batch, &kgo.Record{Value: []byte(strconv.Itoa(i))})
				i++
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := p.cl.ProduceSync(ctx, batch...).FirstErr()
			cancel()
			if err != nil {
				p.err.Store(&err)
				return
			}
			p.produced.Add(int64(len(batch)))
		}
	}()
	t.Cleanup(p.halt)
	return p
}

// halt stops producing and returns how many records were acknowledged.
func (p *producer) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *producer) check(t *testing.T) {
	t.Helper()
	if e := p.err.Load(); e != nil {
		t.Fatalf("producer: %v", *e)
	}
}

// rawMember speaks the group protocol by hand: it joins and syncs like a consumer
// would, then can go silent (no heartbeat, no LeaveGroup), as a crashed consumer does.
type rawMember struct {
	t          *testing.T
	cl         *kgo.Client
	group      string
	protocol   string
	metadata   []byte
	instance   *string
	memberID   string
	generation int32
	assigned   []int32
}

func newRawMember(t *testing.T, n *node, group, protocol, topic string) *rawMember {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	return &rawMember{t: t, cl: n.client(), group: group, protocol: protocol, metadata: meta.AppendTo(nil)}
}

// join runs JoinGroup (with KIP-394's second round) and SyncGroup; it returns the
// join's error code if the join failed.
func (r *rawMember) join(ctx context.Context, sessionTimeout time.Duration) error {
	for {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.InstanceID, req.ProtocolType = r.group, r.memberID, r.instance, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = int32(sessionTimeout/time.Millisecond), int32(rebalanceTimeout/time.Millisecond)
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = r.protocol, r.metadata
		req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
		resp, err := req.RequestWith(ctx, r.cl)
		if err != nil {
			return err
		}
		if resp.ErrorCode == kerr.MemberIDRequired.Code {
			r.memberID = resp.MemberID
			continue
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return err
		}
		r.memberID, r.generation = resp.MemberID, resp.Generation
		if resp.LeaderID == resp.MemberID {
			return errors.New("raw member became the group leader; it cannot assign")
		}
		sreq := kmsg.NewPtrSyncGroupRequest()
		sreq.Group, sreq.MemberID, sreq.InstanceID, sreq.Generation = r.group, r.memberID, r.instance, r.generation
		sresp, err := sreq.RequestWith(ctx, r.cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(sresp.ErrorCode); err != nil {
			return err
		}
		var a kmsg.ConsumerMemberAssignment
		if len(sresp.MemberAssignment) > 0 {
			if err := a.ReadFrom(sresp.MemberAssignment); err != nil {
				return err
			}
		}
		r.assigned = nil
		for _, t := range a.Topics {
			r.assigned = append(r.assigned, t.Partitions...)
		}
		return nil
	}
}

// heartbeat sends one Heartbeat and returns its error code.
func (r *rawMember) heartbeat(ctx context.Context) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.InstanceID, req.Generation = r.group, r.memberID, r.instance, r.generation
	resp, err := req.RequestWith(ctx, r.cl)
	if err != nil {
		r.t.Fatalf("heartbeat: %v", err)
	}
	return resp.ErrorCode
}

// joinUntilAssigned keeps the raw member in the group (rejoining whenever a heartbeat
// says a rebalance runs) until it owns partitions.
func (r *rawMember) joinUntilAssigned(ctx context.Context) {
	r.t.Helper()
	if err := r.join(ctx, sessionTimeout); err != nil {
		r.t.Fatalf("raw member join: %v", err)
	}
	for len(r.assigned) == 0 {
		select {
		case <-ctx.Done():
			r.t.Fatal("raw member never got partitions")
		case <-time.After(heartbeatEvery):
		}
		switch code := r.heartbeat(ctx); code {
		case 0:
		case kerr.RebalanceInProgress.Code:
			if err := r.join(ctx, sessionTimeout); err != nil {
				r.t.Fatalf("raw member rejoin: %v", err)
			}
		default:
			r.t.Fatalf("raw member heartbeat: %v", kerr.ErrorForCode(code))
		}
	}
}
