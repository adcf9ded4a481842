package test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// What an application using Sarama, kafkajs, librdkafka (confluent-kafka-python) or
// kafka-python sees
// when its only broker is killed with SIGKILL and restarted on the same data, or frozen
// with SIGSTOP: an idempotent acks=all producer carries on without an error and every
// record it was told is written is in the log once, in send order; a consumer group of
// two auto-committing members comes back, skips nothing, redelivers nothing it had
// committed, and ends Stable. The clients report what they saw as events
// (clientfaults_helpers_test.go).

// faultedProducer is a producer client under test, already streaming numbered records to
// the topic: events are what it reports; frozen reports whether it has noticed a frozen
// node (a request timed out), nil to freeze for a fixed time instead; stop finishes the
// stream and waits for the last outcomes.
type faultedProducer struct {
	events *eventLog
	frozen func() bool
	stop   func()
}

// produceThroughFaults runs a producer through a kill -9 and restart of the node and
// then a freeze, and checks what it produced.
func produceThroughFaults(t *testing.T, n *node, topic string, partitions int32, p faultedProducer) {
	t.Helper()
	const step = 2000
	waitEvents(t, p.events, "ack", step, "the producer's first acknowledgements")
	n.restart()
	acked := p.events.count("ack")
	waitEvents(t, p.events, "ack", acked+step, "acknowledgements after the restart")

	if err := n.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if p.frozen != nil {
		eventually(t, 30*time.Second, "the producer to notice the frozen node", p.frozen)
	} else {
		time.Sleep(3 * time.Second) // the fault itself: longer than the client's request timeout
	}
	if err := n.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	acked = p.events.count("ack")
	waitEvents(t, p.events, "ack", acked+step, "acknowledgements after the freeze")
	p.stop()
	checkProduced(t, n, p.events, topic, partitions)
	t.Logf("%d records acknowledged across a kill -9 and a freeze; events %s", p.events.count("ack"), describeEvents(p.events))
}

func TestSaramaIdempotentProducerThroughFaults(t *testing.T) {
	n := startNode(t, "")
	const topic, partitions = "sarama-faults", 3
	createTopic(t, n, topic, partitions, nil)
	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 1000
	cfg.Producer.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.Flush.Frequency = 2 * time.Millisecond
	cfg.Net.MaxOpenRequests = 1
	cfg.Net.ReadTimeout = time.Second
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	prod, err := sarama.NewAsyncProducer([]string{n.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := newEventLog(t)
	var outcomes sync.WaitGroup
	outcomes.Add(2)
	go func() {
		defer outcomes.Done()
		for m := range prod.Successes() {
			v, _ := m.Value.Encode()
			events.add("ack", strconv.Itoa(int(m.Partition)), strconv.FormatInt(m.Offset, 10), string(v))
		}
	}()
	go func() {
		defer outcomes.Done()
		for e := range prod.Errors() {
			v, _ := e.Msg.Value.Encode()
			events.add("fail", string(v), e.Err.Error())
		}
	}()
	var stopping atomic.Bool
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; !stopping.Load(); i++ {
			prod.Input() <- &sarama.ProducerMessage{Topic: topic, Partition: int32(i % partitions), Value: sarama.StringEncoder(fmt.Sprintf("r%07d", i))}
			if i%20 == 19 {
				time.Sleep(time.Millisecond) // a steady stream, not a flood
			}
		}
	}()
	produceThroughFaults(t, n, topic, partitions, faultedProducer{events: events, stop: func() {
		stopping.Store(true)
		<-sent
		prod.AsyncClose()
		outcomes.Wait()
	}})
}

func TestKafkaJSIdempotentProducerThroughFaults(t *testing.T) {
	node := kafkaJSNode(t)
	n := startNode(t, "")
	const topic, partitions = "kafkajs-faults", 3
	createTopic(t, n, topic, partitions, nil)
	p := startClientProc(t, "js", node, "fault_produce.js", n.kafkaAddr, topic, strconv.Itoa(partitions))
	produceThroughFaults(t, n, topic, partitions, faultedProducer{
		events: p.eventLog,
		frozen: func() bool { return p.count("timeout") > 0 },
		stop:   func() { p.finish(t, 60*time.Second) },
	})
}

func TestConfluentKafkaIdempotentProducerThroughFaults(t *testing.T) {
	python := confluentKafka(t)
	n := startNode(t, "")
	const topic, partitions = "ck-faults", 3
	createTopic(t, n, topic, partitions, nil)
	p := startClientProc(t, ".", python, "py/ck_fault_produce.py", n.kafkaAddr, topic, strconv.Itoa(partitions),
		"request.timeout.ms=1000", "socket.timeout.ms=1500")
	produceThroughFaults(t, n, topic, partitions, faultedProducer{
		events: p.eventLog,
		frozen: func() bool {
			for _, e := range p.of("error") {
				if e[2] == "_TIMED_OUT" {
					return true
				}
			}
			return false
		},
		stop: func() { p.finish(t, 60*time.Second) },
	})
	for _, e := range p.of("error") {
		if e[1] != "0" {
			t.Errorf("librdkafka reported a fatal error: %v", e)
		}
	}
}

// feedTopic produces numbered records round-robin to the topic with kgo, a steady
// stream of about two thousand a second, until the returned stop, which flushes them.
func feedTopic(t *testing.T, n *node, topic string) (stop func()) {
	t.Helper()
	cl := n.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MetadataMinAge(250*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // kafkajs reads no snappy
	ctx, cancel := context.WithCancel(context.Background())
	var failed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			cl.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "v%07d", i)}, func(_ *kgo.Record, err error) {
				if err != nil && !errors.Is(err, context.Canceled) {
					failed.Add(1)
				}
			})
			if i%10 == 9 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if failed.Load() > 0 {
			t.Fatalf("%d records fed to the group failed", failed.Load())
		}
	}
}

// consumeThroughRestart runs a two-member consumer group (whose events go to l) through
// a kill -9 of the node, kept down until both members have given up their sessions
// (see membersLost), and a restart, while records keep coming. The members
// rejoin and resume from the committed offsets: the test checks that the group skipped
// nothing, redelivered nothing committed and ended Stable with both members.
func consumeThroughRestart(t *testing.T, n *node, l *eventLog, group, topic string, partitions int32, finish func()) {
	t.Helper()
	stopFeed := feedTopic(t, n, topic)
	adm := n.admin()
	eventually(t, 60*time.Second, "both members consuming in a stable group", func() bool {
		return n.stableWith(group, topic, 2, int(partitions)) && l.count("msg") >= 1000 && membersConsuming(l) >= 2
	})
	// What the broker says is committed just before the kill must hold after it.
	offsets, err := adm.FetchOffsets(testContext(t), group)
	if err != nil || offsets.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, offsets.Error())
	}
	offsets.Each(func(o kadm.OffsetResponse) {
		l.add("commit", "broker", strconv.Itoa(int(o.Partition)), strconv.FormatInt(o.At, 10))
	})
	before, _ := n.group(group)
	l.add("note", "kill")
	n.kill()
	eventually(t, 60*time.Second, "both members to give up their sessions", func() bool { return membersLost(l) >= 2 })
	l.add("note", "restart")
	n.start()
	delivered := l.count("msg")
	eventually(t, 60*time.Second, "both members consuming again after the restart", func() bool {
		return l.count("msg") >= delivered+1000 && n.stableWith(group, topic, 2, int(partitions))
	})
	stopFeed()
	cl := n.rawClient()
	eventually(t, 60*time.Second, "the group to consume every record", func() bool {
		return consumedAll(t, cl, l, topic, partitions)
	})
	after, _ := n.group(group)
	// Members that rejoined are in a later generation; ones that kept their session
	// (the node restores the group, as a Kafka coordinator loads it) in the same one.
	if after.State != "Stable" || len(after.Members) != 2 || after.Generation < before.Generation {
		t.Fatalf("group after consuming everything: %+v; want Stable with both members, generation %d or later", after, before.Generation)
	}
	finish()
	redelivered := checkConsumed(t, n, l, topic, partitions)
	t.Logf("%d records delivered, %d of them again after the restart; generation %d -> %d; events %s",
		l.count("msg"), redelivered, before.Generation, after.Generation, describeEvents(l))
}

// saramaEvents is a Sarama consumer group handler that reports every message as an event
// and marks it for the automatic commit.
type saramaEvents struct {
	member string
	l      *eventLog
}

func (h saramaEvents) Setup(s sarama.ConsumerGroupSession) error {
	for _, parts := range s.Claims() {
		h.l.add("assign", h.member, fmt.Sprint(parts))
	}
	return nil
}
func (h saramaEvents) Cleanup(sarama.ConsumerGroupSession) error {
	h.l.add("revoke", h.member)
	return nil
}

// consumeError reports a failed Consume as a lost session: a member the node's death
// caught between joining and its Setup has no session to clean up.
func (h saramaEvents) consumeError(err error) {
	h.l.add("lost", h.member, err.Error())
}

func (h saramaEvents) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.l.add("msg", h.member, strconv.Itoa(int(msg.Partition)), strconv.FormatInt(msg.Offset, 10), string(msg.Value))
		sess.MarkMessage(msg, "")
	}
	return nil
}

func TestSaramaConsumerGroupThroughRestart(t *testing.T) {
	n := startNode(t, groupConfig)
	const topic, group, partitions = "sarama-group-faults", "sarama-faulted", 4
	createTopic(t, n, topic, partitions, nil)
	l := newEventLog(t)
	var stops []func()
	for _, name := range []string{"m1", "m2"} {
		cfg := saramaGroupConfig("")
		cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
		cfg.Consumer.Group.Session.Timeout = 2 * time.Second
		cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
		// Give up a session a few retries after the coordinator goes, not ten.
		cfg.Metadata.Retry.Max = 3
		cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
		cfg.Consumer.Retry.Backoff = 50 * time.Millisecond
		stops = append(stops, runSaramaGroup(t, n, group, topic, cfg, saramaEvents{member: name, l: l}))
	}
	consumeThroughRestart(t, n, l, group, topic, partitions, func() {
		for _, stop := range stops {
			stop()
		}
	})
}

func TestKafkaJSConsumerGroupThroughRestart(t *testing.T) {
	node := kafkaJSNode(t)
	n := startNode(t, groupConfig)
	const topic, group, partitions = "kafkajs-group-faults", "kafkajs-faulted", 4
	createTopic(t, n, topic, partitions, nil)
	p := startClientProc(t, "js", node, "fault_group.js", n.kafkaAddr, topic, group)
	consumeThroughRestart(t, n, p.eventLog, group, topic, partitions, func() { p.finish(t, 60*time.Second) })
	// kafkajs reports its broker going away as a crash of the consumer's run loop,
	// which it restarts (restart true); a crash it does not restart from would stop the
	// application's consumption.
	for _, e := range p.of("crash") {
		if e[3] != "true" {
			t.Errorf("a kafkajs consumer crashed for good: %v", e)
		}
	}
}

// librdkafka's eager (range) and incremental (cooperative-sticky, KIP-429) rebalancing.
func TestConfluentKafkaConsumerGroupThroughRestart(t *testing.T) {
	python := confluentKafka(t)
	for _, strategy := range []string{"range", "cooperative-sticky"} {
		t.Run(strategy, func(t *testing.T) {
			n := startNode(t, groupConfig)
			const topic, group, partitions = "ck-group-faults", "ck-faulted", 4
			createTopic(t, n, topic, partitions, nil)
			p := startClientProc(t, ".", python, "py/ck_fault_group.py", n.kafkaAddr, topic, group, strategy)
			consumeThroughRestart(t, n, p.eventLog, group, topic, partitions, func() { p.finish(t, 60*time.Second) })
			// Commits of offsets a member lost with its session fail (UNKNOWN_MEMBER_ID),
			// as librdkafka documents; only a fatal error would stop the application.
			for _, e := range p.of("error") {
				if e[2] != "0" {
					t.Errorf("librdkafka reported a fatal error: %v", e)
				}
			}
		})
	}
}

func TestKafkaPythonConsumerGroupThroughRestart(t *testing.T) {
	python := kafkaPython(t)
	n := startNode(t, groupConfig)
	const topic, group, partitions = "kp-group-faults", "kp-faulted", 4
	createTopic(t, n, topic, partitions, nil)
	p := startClientProc(t, ".", python, "py/kp_fault_group.py", n.kafkaAddr, topic, group)
	consumeThroughRestart(t, n, p.eventLog, group, topic, partitions, func() { p.finish(t, 60*time.Second) })
	for _, e := range p.of("error") {
		t.Errorf("a kafka-python poll raised %v", e)
	}
}

// membersConsuming counts the members that have delivered a record since their last
// assignment, with no revocation since: members whose sessions are running. The broker
// calls a group Stable once it has answered every SyncGroup, which may be before a member
// has set its session up; a member the kill catches there may fail before reporting any
// lost session, so the test kills only once both are consuming.
func membersConsuming(l *eventLog) int {
	consuming := map[string]bool{}
	for _, e := range l.all() {
		switch e[0] {
		case "assign", "revoke", "crash", "lost":
			consuming[e[1]] = false
		case "msg":
			consuming[e[1]] = true
		}
	}
	n := 0
	for _, c := range consuming {
		if c {
			n++
		}
	}
	return n
}

// membersLost counts the members that gave up their sessions since the node was killed
// (the last "note kill"): each reports it as a "revoke" of its partitions, a "crash" of
// its run loop or a "lost" session, depending on the client. A "lost" from a client that
// cannot say which member (member "-") counts as one more member.
func membersLost(l *eventLog) int {
	events := l.all()
	from := 0
	for i, e := range events {
		if e[0] == "note" && e[1] == "kill" {
			from = i
		}
	}
	members := map[string]bool{}
	for i, e := range events[from:] {
		if e[0] == "revoke" || e[0] == "crash" || e[0] == "lost" {
			if e[1] == "-" {
				members[strconv.Itoa(i)] = true
			} else {
				members[e[1]] = true
			}
		}
	}
	return len(members)
}
