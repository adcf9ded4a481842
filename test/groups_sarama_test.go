package test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func saramaGroupConfig(instance string) *sarama.Config {
	cfg := saramaConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 3 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = heartbeatEvery
	cfg.Consumer.Group.Rebalance.Timeout = rebalanceTimeout
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Group.InstanceId = instance
	return cfg
}

// saramaHandler marks every message up to a limit and counts sessions (a new session
// means a rebalance).
type saramaHandler struct {
	mu       sync.Mutex
	limit    int
	values   []string
	sessions atomic.Int32
	reached  chan struct{}
}

func newSaramaHandler(limit int) *saramaHandler {
	return &saramaHandler{limit: limit, reached: make(chan struct{})}
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error {
	h.sessions.Add(1)
	return nil
}
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.mu.Lock()
		if len(h.values) < h.limit {
			h.values = append(h.values, string(msg.Value))
			sess.MarkMessage(msg, "")
			if len(h.values) == h.limit {
				close(h.reached)
			}
		}
		h.mu.Unlock()
	}
	return nil
}

func (h *saramaHandler) consumed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.values...)
}

// consumeErrorReporter is a handler that wants to know when a consumer group's Consume
// fails: the member then has no session, which a handler's Cleanup does not report when
// the session failed before its Setup (say, fetching its offsets as the node died).
type consumeErrorReporter interface {
	consumeError(err error)
}

// runSaramaGroup consumes in a Sarama consumer group until stop is called, which
// commits the marked offsets and closes the group.
func runSaramaGroup(t *testing.T, n *node, group, topic string, cfg *sarama.Config, h sarama.ConsumerGroupHandler) (stop func()) {
	t.Helper()
	cg, err := sarama.NewConsumerGroup([]string{n.kafkaAddr}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				t.Logf("sarama consume: %v", err)
				if r, ok := h.(consumeErrorReporter); ok {
					r.consumeError(err)
				}
				time.Sleep(50 * time.Millisecond) // let the error pass (a rejoin), then consume again
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := cg.Close(); err != nil {
				t.Errorf("close sarama consumer group: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestSaramaConsumerGroupResumes consumes part of a topic with a Sarama consumer group,
// closes it and resumes with a new one from the committed offsets.
func TestSaramaConsumerGroupResumes(t *testing.T) {
	n := startNode(t, groupConfig)
	const topic, group = "sarama-orders", "sarama-group"
	if _, err := n.admin().CreateTopic(testContext(t), 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	produceNumbered(t, n, topic, 0, 200)

	h1 := newSaramaHandler(120)
	stop := runSaramaGroup(t, n, group, topic, saramaGroupConfig(""), h1)
	waitClosed(t, h1.reached, "the first Sarama consumer to mark 120 messages")
	stop()

	h2 := newSaramaHandler(80)
	stop = runSaramaGroup(t, n, group, topic, saramaGroupConfig(""), h2)
	waitClosed(t, h2.reached, "the second Sarama consumer to mark the other 80")
	stop()
	seen := map[string]bool{}
	for _, v := range append(h1.consumed(), h2.consumed()...) {
		if seen[v] {
			t.Fatalf("message %s consumed by both consumers", v)
		}
		seen[v] = true
	}
	for i := 0; i < 200; i++ {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("message %d never consumed", i)
		}
	}
}

// TestSaramaStaticMemberRejoinsWithoutRebalance restarts a static Sarama member (same
// group.instance.id): it takes its place again in the same generation and the other
// member never sees a rebalance.
func TestSaramaStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	n := startNode(t, groupConfig)
	const topic, group = "sarama-static", "sarama-statics"
	if _, err := n.admin().CreateTopic(testContext(t), 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	stay := newSaramaHandler(1 << 30)
	runSaramaGroup(t, n, group, topic, saramaGroupConfig("stay"), stay)
	eventually(t, 20*time.Second, "the first static member alone in the group", func() bool { return n.stableWith(group, topic, 1, 4) })
	bounce := newSaramaHandler(1 << 30)
	stop := runSaramaGroup(t, n, group, topic, saramaGroupConfig("bounce"), bounce)
	eventually(t, 20*time.Second, "two static members sharing the partitions", func() bool { return n.stableWith(group, topic, 2, 4) })
	// "stay" had a session for generation 1 and one for generation 2.
	eventually(t, 20*time.Second, "both members in their generation 2 sessions", func() bool {
		return stay.sessions.Load() == 2 && bounce.sessions.Load() == 1
	})
	before, _ := n.group(group)
	sessionsBefore := stay.sessions.Load()

	stop() // a static member's Close does not leave the group
	again := newSaramaHandler(1 << 30)
	runSaramaGroup(t, n, group, topic, saramaGroupConfig("bounce"), again)
	eventually(t, 20*time.Second, "the restarted static member to get its partitions back", func() bool { return again.sessions.Load() > 0 })
	produceNumbered(t, n, topic, 0, 40)
	eventually(t, 20*time.Second, "both members consuming", func() bool {
		return len(stay.consumed())+len(again.consumed()) == 40 && len(again.consumed()) > 0
	})
	after, _ := n.group(group)
	if after.Generation != before.Generation || after.State != "Stable" || len(after.Members) != 2 {
		t.Fatalf("static rejoin rebalanced the group: generation %d -> %d, state %s, %d members", before.Generation, after.Generation, after.State, len(after.Members))
	}
	memberOf := func(g debugGroup, instance string) string {
		for _, m := range g.Members {
			if m.InstanceID == instance {
				return m.MemberID
			}
		}
		return ""
	}
	if memberOf(after, "bounce") == memberOf(before, "bounce") || memberOf(after, "stay") != memberOf(before, "stay") {
		t.Fatalf("member ids: before %+v, after %+v; want a new id for the restarted instance only", before.Members, after.Members)
	}
	if s := stay.sessions.Load(); s != sessionsBefore {
		t.Fatalf("the other member went through %d more sessions (rebalances)", s-sessionsBefore)
	}
}

func waitClosed(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
