package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The chaos tests run producers, a consumer group and a metadata churn loop against one
// node while the node is killed (-9), frozen (SIGSTOP) and stopped (SIGTERM) at random
// moments, restarted on the same data each time, and then check what a user would:
// every acknowledged record is in the log exactly once, where it was acknowledged, in
// order; the logs are dense and uncorrupted; committed offsets never went backwards or
// past the high watermark; the group resumes where it committed; the topics created and
// deleted are as the admin was told.
//
// The suite runs each policy for about 20 s of chaos. A soak runs longer, and a failure
// replays with its logged seed (the moments differ, the choices do not):
//
//	make build && CHRONIK_BIN=$PWD/bin/chronik-node CHRONIK_CHAOS_DURATION=5m \
//	    go test -count=1 -timeout 30m -run TestChaos ./test/
//	CHRONIK_CHAOS_SEED=1234 ... to replay a seed.

func TestChaosFsyncAlways(t *testing.T) {
	runChaos(t, `log.flush.policy = "always"`)
}

// Under the interval policy a produce is acknowledged once the operating system has it;
// kill -9 does not lose the page cache, so nothing acknowledged may be lost either.
func TestChaosFsyncInterval(t *testing.T) {
	runChaos(t, `log.flush.policy = "interval"`)
}

const (
	chaosTopic      = "chaos"
	chaosPartitions = 6
	chaosGroup      = "chaos-readers"
	chaosProducers  = 3
	chaosMembers    = 3
)

// chaosSettings reads the run's length and seed from the environment (defaults: 20 s,
// a fresh seed), and logs both so a failure can be replayed.
func chaosSettings(t *testing.T) (time.Duration, uint64) {
	duration := 20 * time.Second
	if s := os.Getenv("CHRONIK_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("CHRONIK_CHAOS_DURATION: %v", err)
		}
		duration = d
	}
	seed := rand.Uint64()
	if s := os.Getenv("CHRONIK_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHRONIK_CHAOS_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("chaos: duration %v, CHRONIK_CHAOS_SEED=%d", duration, seed)
	return duration, seed
}

// chaosFailures collects what the background workers saw go wrong (they cannot fail
// the test from their goroutines).
type chaosFailures struct {
	mu   sync.Mutex
	errs []string
}

func (f *chaosFailures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) < 50 {
		f.errs = append(f.errs, fmt.Sprintf(format, args...))
	}
}

func (f *chaosFailures) report(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.errs {
		t.Error(e)
	}
	if len(f.errs) > 0 {
		t.FailNow()
	}
}

// chaosAck is where a record was acknowledged.
type chaosAck struct {
	partition int32
	offset    int64
}

// chaosProducer is one idempotent producer sending "p<id>-<seq>" records.
type chaosProducer struct {
	id       int
	cl       *kgo.Client
	mu       sync.Mutex
	acked    map[int64]chaosAck // by sequence
	failed   map[int64]error
	produced atomic.Int64
	stop     atomic.Bool
	done     chan struct{}
}

func (p *chaosProducer) run(ctx context.Context, rng *rand.Rand) {
	defer close(p.done)
	for seq := int64(0); !p.stop.Load() && ctx.Err() == nil; seq++ {
		r := &kgo.Record{
			Key:     fmt.Appendf(nil, "k%d", rng.IntN(97)),
			Value:   fmt.Appendf(nil, "p%d-%09d", p.id, seq),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.FormatInt(seq, 10))}},
		}
		p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.failed[seq] = err
				return
			}
			p.acked[seq] = chaosAck{r.Partition, r.Offset}
		})
		p.produced.Add(1)
		// A steady stream, not a flood: about a thousand records a second per producer,
		// so the final check reads a bounded log.
		if seq%5 == 4 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (p *chaosProducer) ackedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// chaosGroupState is what the group's members saw: records consumed and the offsets the
// broker acknowledged as committed.
type chaosGroupState struct {
	mu           sync.Mutex
	seen         map[string]int
	ackedCommits map[int32]int64 // highest commit acknowledged per partition
	history      map[int32][]string
}

func (g *chaosGroupState) onCommit(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
	if err != nil || resp == nil {
		g.mu.Lock()
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				g.history[p.Partition] = append(g.history[p.Partition], fmt.Sprintf("%s %s gen %d: %d failed: %v", time.Now().Format("15:04:05.000"), req.MemberID, req.Generation, p.Offset, err))
			}
		}
		g.mu.Unlock()
		return
	}
	asked := map[int32]int64{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			asked[p.Partition] = p.Offset
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			g.history[p.Partition] = append(g.history[p.Partition], fmt.Sprintf("%s %s gen %d: %d code %d", time.Now().Format("15:04:05.000"), req.MemberID, req.Generation, asked[p.Partition], p.ErrorCode))
			if p.ErrorCode == 0 && asked[p.Partition] > g.ackedCommits[p.Partition] {
				g.ackedCommits[p.Partition] = asked[p.Partition]
			}
		}
	}
}

// chaosChurn creates, alters and deletes topics and commits offsets for a second group,
// remembering what the broker acknowledged. Names come from a small pool, so a name is
// deleted and created again many times, across crashes; each incarnation gets one record
// naming it, and no record of an earlier incarnation may ever show up in a later one.
type chaosChurn struct {
	mu          sync.Mutex
	topics      map[string]string // name -> "exists", "deleted" or "unknown" (no answer)
	incarnation map[string]int    // name -> the current incarnation's number
	written     map[string]bool   // name -> the current incarnation's record was acknowledged
	configs     map[string]string // name -> acknowledged retention.ms, or "unknown"
	partitions  map[string]int    // name -> acknowledged partition count, or -1 if unknown
	trimmedTo   map[string]int64  // name -> partition 0's acknowledged DeleteRecords offset
	commit      int64             // highest acknowledged commit of churnGroup, partition 0
	stop        atomic.Bool
	done        chan struct{}
}

const (
	churnGroup = "chaos-churn"
	churnNames = 40
)

func incarnationValue(name string, incarnation int) string {
	return fmt.Sprintf("%s@%d", name, incarnation)
}

func (c *chaosChurn) run(ctx context.Context, adm *kadm.Client, prod *kgo.Client, rng *rand.Rand) {
	defer close(c.done)
	set := func(name, state string) {
		c.mu.Lock()
		c.topics[name] = state
		c.mu.Unlock()
	}
	live := map[string]bool{}
	for i := 0; !c.stop.Load() && ctx.Err() == nil; i++ {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		name := fmt.Sprintf("churn-%02d", rng.IntN(churnNames))
		switch {
		case live[name] && rng.IntN(6) == 0 && c.partitionCount(name) > 0 && c.partitionCount(name) < 6:
			want := c.partitionCount(name) + 1
			rs, err := adm.UpdatePartitions(rctx, want, name)
			c.mu.Lock()
			if err == nil && rs.Error() == nil {
				c.partitions[name] = want
			} else {
				c.partitions[name] = -1
			}
			c.mu.Unlock()
		case live[name] && rng.IntN(5) == 0:
			// More of the incarnation's records, then DeleteRecords up to their end.
			c.mu.Lock()
			value := incarnationValue(name, c.incarnation[name])
			c.mu.Unlock()
			recs := []*kgo.Record{{Topic: name, Value: []byte(value)}, {Topic: name, Value: []byte(value)}}
			if err := prod.ProduceSync(rctx, recs...).FirstErr(); err != nil {
				break
			}
			to := recs[1].Offset + 1
			offs := kadm.Offsets{}
			offs.Add(kadm.Offset{Topic: name, Partition: 0, At: to, LeaderEpoch: -1})
			rs, err := adm.DeleteRecords(rctx, offs)
			if r, ok := rs.Lookup(name, 0); err == nil && ok && r.Err == nil {
				c.mu.Lock()
				c.trimmedTo[name] = max(c.trimmedTo[name], to)
				c.mu.Unlock()
			}
		case live[name] && rng.IntN(3) == 0:
			rs, err := adm.DeleteTopics(rctx, name)
			switch {
			case err == nil && rs[name].Err == nil:
				set(name, "deleted")
			case err == nil && errors.Is(rs[name].Err, kerr.UnknownTopicOrPartition):
				set(name, "deleted") // a retry of a delete that had been applied
			default:
				set(name, "unknown")
			}
			delete(live, name)
		case live[name]:
			value := strconv.Itoa(60000 + i)
			rs, err := adm.AlterTopicConfigs(rctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &value}}, name)
			c.mu.Lock()
			if err == nil && len(rs) == 1 && rs[0].Err == nil {
				c.configs[name] = value
			} else {
				c.configs[name] = "unknown"
			}
			c.mu.Unlock()
		case c.state(name) == "unknown":
			// A create or delete went unanswered: settle which it is by deleting.
			rs, err := adm.DeleteTopics(rctx, name)
			if err == nil && (rs[name].Err == nil || errors.Is(rs[name].Err, kerr.UnknownTopicOrPartition)) {
				set(name, "deleted")
			}
		default:
			c.mu.Lock()
			c.incarnation[name]++
			inc := c.incarnation[name]
			delete(c.written, name)
			delete(c.configs, name)
			delete(c.trimmedTo, name)
			partitions := 1 + rng.IntN(3)
			c.partitions[name] = partitions
			c.mu.Unlock()
			r, err := adm.CreateTopic(rctx, int32(partitions), 1, nil, name)
			if err != nil || (r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists)) {
				set(name, "unknown")
				break
			}
			// TOPIC_ALREADY_EXISTS: a retry of a create that had been applied (the name
			// was known to be gone before).
			set(name, "exists")
			live[name] = true
			rec := &kgo.Record{Topic: name, Partition: 0, Value: []byte(incarnationValue(name, inc))}
			if err := prod.ProduceSync(rctx, rec).FirstErr(); err == nil {
				c.mu.Lock()
				c.written[name] = true
				c.mu.Unlock()
			}
		}
		next := c.commitValue() + 1 + int64(rng.IntN(5))
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: chaosTopic, Partition: 0, At: next, LeaderEpoch: -1})
		if rs, err := adm.CommitOffsets(rctx, churnGroup, offs); err == nil && rs.Error() == nil {
			c.mu.Lock()
			c.commit = max(c.commit, next)
			c.mu.Unlock()
		}
		cancel()
	}
}

func (c *chaosChurn) partitionCount(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partitions[name]
}

func (c *chaosChurn) state(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.topics[name]
}

func (c *chaosChurn) commitValue() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commit
}

func runChaos(t *testing.T, policy nodeConfig) {
	duration, seed := chaosSettings(t)
	rng := rand.New(rand.NewPCG(seed, 0x636861))
	n := newNode(t, "", policy+"\n"+groupConfig+"\nlog.retention.check.interval.ms = 200")
	// A low open-files limit (sealed segments then share 256 open files) makes the node
	// close and reopen sealed segments' files all through the crashes, small segments
	// most of all.
	n.openFiles = 1024
	n.start()
	// Small segments put kills in the middle of segment rolls and index writes too.
	segmentBytes := []string{"1073741824", "262144", "32768"}[rng.IntN(3)]
	t.Logf("chaos topic segment.bytes %s", segmentBytes)
	createTopic(t, n, chaosTopic, chaosPartitions, map[string]string{"segment.bytes": segmentBytes})
	failures := &chaosFailures{}
	// ctx runs the workers; checks use their own deadlines.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	compression := []kgo.CompressionCodec{kgo.NoCompression(), kgo.SnappyCompression(), kgo.ZstdCompression(), kgo.Lz4Compression()}[rng.IntN(4)]
	producers := make([]*chaosProducer, chaosProducers)
	for i := range producers {
		p := &chaosProducer{id: i, acked: map[int64]chaosAck{}, failed: map[int64]error{}, done: make(chan struct{})}
		p.cl = n.client(kgo.DefaultProduceTopic(chaosTopic), kgo.ProducerLinger(time.Millisecond),
			kgo.ProducerBatchCompression(compression),
			// Find the restarted node soon instead of after kgo's default 5 s.
			kgo.MetadataMinAge(250*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
			// A connection accepted just before a SIGTERM is closed with its ApiVersions
			// unanswered, as a Kafka broker's shutdown closes it; kgo takes an EOF on a
			// first read for a TLS or SASL mistake and fails the records unless told.
			kgo.AlwaysRetryEOF())
		producers[i] = p
		go p.run(ctx, rand.New(rand.NewPCG(seed, uint64(i))))
	}

	adm := n.admin()
	// A topic whose retention keeps only its last few small segments: the node deletes
	// segments all through the crashes, and its log start must only move forward.
	createTopic(t, n, retainedTopic, 1, map[string]string{"segment.bytes": "16384", "retention.bytes": "65536"})
	retained := &chaosProducer{id: 0, acked: map[int64]chaosAck{}, failed: map[int64]error{}, done: make(chan struct{})}
	retained.cl = n.client(kgo.DefaultProduceTopic(retainedTopic), kgo.ProducerLinger(time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.AlwaysRetryEOF())
	go retained.run(ctx, rand.New(rand.NewPCG(seed, 77)))
	retainedStart := int64(0)
	checkRetainedStart := func(when string) {
		t.Helper()
		var start int64
		eventually(t, 60*time.Second, retainedTopic+"'s log start "+when, func() bool {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			starts, err := adm.ListStartOffsets(rctx, retainedTopic)
			if err != nil || starts.Error() != nil {
				return false
			}
			o, _ := starts.Lookup(retainedTopic, 0)
			start = o.Offset
			return true
		})
		if start < retainedStart {
			t.Fatalf("%s: %s/0 starts at %d, after it had started at %d: deleted records came back", when, retainedTopic, start, retainedStart)
		}
		retainedStart = start
	}

	group := &chaosGroupState{seen: map[string]int{}, ackedCommits: map[int32]int64{}, history: map[int32][]string{}}
	var members []*kgo.Client
	var membersDone sync.WaitGroup
	for i := 0; i < chaosMembers; i++ {
		m := n.client(kgo.ConsumerGroup(chaosGroup), kgo.ConsumeTopics(chaosTopic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
			kgo.AutoCommitInterval(300*time.Millisecond), kgo.AutoCommitCallback(group.onCommit),
			kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(250*time.Millisecond),
			kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
		members = append(members, m)
		membersDone.Add(1)
		go func() {
			defer membersDone.Done()
			for ctx.Err() == nil {
				fs := m.PollFetches(ctx)
				fs.EachError(func(topic string, p int32, err error) {
					var loss *kgo.ErrDataLoss
					if errors.As(err, &loss) {
						failures.add("member %d: %v", i, err)
					}
				})
				group.mu.Lock()
				fs.EachRecord(func(r *kgo.Record) { group.seen[string(r.Value)]++ })
				group.mu.Unlock()
			}
		}()
	}

	churn := &chaosChurn{topics: map[string]string{}, incarnation: map[string]int{}, written: map[string]bool{},
		configs: map[string]string{}, partitions: map[string]int{}, trimmedTo: map[string]int64{}, done: make(chan struct{})}
	churnProd := n.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }), kgo.AlwaysRetryEOF())
	go churn.run(ctx, n.admin(), churnProd, rand.New(rand.NewPCG(seed, 99)))

	totalAcked := func() int {
		sum := 0
		for _, p := range producers {
			sum += p.ackedCount()
		}
		return sum
	}
	// Committed offsets as read after each restart: they may only move forward.
	lastCommitted := map[int32]int64{}
	checkCommitted := func(when string) {
		t.Helper()
		// What was acknowledged before asking: a commit acknowledged while the fetch is
		// on its way may or may not be in its answer.
		group.mu.Lock()
		acked := maps.Clone(group.ackedCommits)
		group.mu.Unlock()
		churnAcked := churn.commitValue()
		var offs kadm.OffsetResponses
		var ends kadm.ListedOffsets
		eventually(t, 60*time.Second, "group offsets and end offsets "+when, func() bool {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			// Read the commits first: the high watermark only grows after them.
			if offs, err = adm.FetchOffsets(rctx, chaosGroup); err != nil || offs.Error() != nil {
				return false
			}
			ends, err = adm.ListEndOffsets(rctx, chaosTopic)
			return err == nil && ends.Error() == nil
		})
		for p := int32(0); p < chaosPartitions; p++ {
			o, ok := offs.Lookup(chaosTopic, p)
			committed := int64(0)
			if ok {
				committed = o.At
			}
			end, _ := ends.Lookup(chaosTopic, p)
			if committed > end.Offset {
				t.Fatalf("%s: %s/%d committed at %d, past the high watermark %d", when, chaosTopic, p, committed, end.Offset)
			}
			if committed < lastCommitted[p] {
				t.Fatalf("%s: %s/%d committed offset went back from %d to %d", when, chaosTopic, p, lastCommitted[p], committed)
			}
			if committed < acked[p] {
				group.mu.Lock()
				h := group.history[p]
				t.Logf("commit history of partition %d:\n%s", p, strings.Join(h[max(0, len(h)-30):], "\n"))
				group.mu.Unlock()
				t.Fatalf("%s: %s/%d committed at %d, but a commit of %d was acknowledged", when, chaosTopic, p, committed, acked[p])
			}
			lastCommitted[p] = committed
		}
		co, err := adm.FetchOffsets(testContext(t), churnGroup)
		if err != nil {
			t.Fatalf("%s: fetch %s offsets: %v", when, churnGroup, err)
		}
		if o, _ := co.Lookup(chaosTopic, 0); o.At < churnAcked {
			t.Fatalf("%s: %s committed at %d, but %d was acknowledged", when, churnGroup, o.At, churnAcked)
		}
	}

	cycles := map[string]int{}
	faults := 0
	start := time.Now()
	for time.Since(start) < duration {
		// Let traffic flow: some records acknowledged since the last fault, then a random
		// moment within the next second or so.
		before := totalAcked()
		eventually(t, 60*time.Second, "producers to make progress after the last fault", func() bool { return totalAcked() > before+200 })
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		switch k := rng.IntN(11); {
		case k < 5:
			cycles["kill"]++
			n.kill()
			n.start()
		case k < 6:
			// Killed again while it recovers: the recovery itself must be crash-safe.
			cycles["kill-in-recovery"]++
			n.kill()
			n.launch()
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			n.kill()
			n.start()
		case k < 7:
			// A graceful shutdown cut short, as by a service manager's stop timeout: the
			// kill lands while the node closes its partitions and writes its snapshots.
			cycles["term-then-kill"]++
			if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			n.kill()
			n.start()
		case k < 9:
			cycles["stop"]++
			if err := n.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			frozen := time.Duration(500+rng.IntN(2500)) * time.Millisecond
			if rng.IntN(8) == 0 {
				// Past the members' session timeout: the group's sessions expire on waking.
				frozen = 7 * time.Second
			}
			time.Sleep(frozen)
			if err := n.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		default:
			cycles["term"]++
			if err := n.stop(); err != nil {
				t.Fatalf("SIGTERM exit: %v", err)
			}
			n.start()
		}
		faults++
		checkCommitted(fmt.Sprintf("after fault %d (%v)", faults, cycles))
		checkRetainedStart(fmt.Sprintf("after fault %d (%v)", faults, cycles))
	}
	t.Logf("%d faults %v; %d records acknowledged", faults, cycles, totalAcked())

	// Wind down: the churn stops, the producers flush what they have, the group reads
	// everything acknowledged.
	churn.stop.Store(true)
	for _, p := range producers {
		p.stop.Store(true)
	}
	retained.stop.Store(true)
	flushCtx, flushCancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer flushCancel()
	for _, p := range append(producers, retained) {
		<-p.done
		if err := p.cl.Flush(flushCtx); err != nil {
			t.Fatalf("producer %d flush: %v", p.id, err)
		}
	}
	<-churn.done
	failures.report(t)
	for _, p := range producers {
		for seq, err := range p.failed {
			t.Errorf("producer %d record %d failed: %v", p.id, seq, err)
			break
		}
		if len(p.failed) > 0 {
			t.Fatalf("producer %d: %d of %d records failed", p.id, len(p.failed), p.produced.Load())
		}
	}
	eventually(t, 120*time.Second, "the group to read every acknowledged record", func() bool {
		group.mu.Lock()
		defer group.mu.Unlock()
		for _, p := range producers {
			for seq := range p.acked {
				if group.seen[fmt.Sprintf("p%d-%09d", p.id, seq)] == 0 {
					return false
				}
			}
		}
		return true
	})
	// Everything read is committed once the members leave (kgo commits on revoke).
	cancel()
	membersDone.Wait()
	for _, m := range members {
		m.Close()
	}
	failures.report(t)
	checkChaosLogs(t, n, producers)
	checkCommitted("after the group left")
	for p := int32(0); p < chaosPartitions; p++ {
		end := offsetOf(t, n.rawClient(), chaosTopic, p, -1)
		if lastCommitted[p] != end {
			t.Fatalf("%s/%d: the group left having read everything, committed %d, high watermark %d", chaosTopic, p, lastCommitted[p], end)
		}
	}
	checkChaosTopics(t, n, churn)
	checkRetainedStart("after the producers stopped")
	checkRetained(t, n, retained)
	segments, _ := filepath.Glob(filepath.Join(n.dir, "data", "partitions", chaosTopic+"-*", "*.log"))
	m := n.scrapeMetrics()
	t.Logf("%d segments in %s; sealed segment files open %v of at most %v", len(segments), chaosTopic,
		m.sum("chronik_sealed_segment_files_open"), m.sum("chronik_sealed_segment_files_open_limit"))

	// One more kill: a fresh member of the group resumes exactly where the group committed.
	n.kill()
	n.start()
	checkCommitted("after the last kill")
	marker := n.client(kgo.DefaultProduceTopic(chaosTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var markers []*kgo.Record
	for p := int32(0); p < chaosPartitions; p++ {
		markers = append(markers, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "marker-%d", p)})
	}
	produceAll(t, marker, markers)
	resumed := consumeAndCommit(t, n, chaosGroup, chaosTopic, chaosPartitions)
	for _, r := range resumed {
		if want := fmt.Sprintf("marker-%d", r.Partition); string(r.Value) != want || r.Offset != lastCommitted[r.Partition] {
			t.Fatalf("the group resumed %s/%d at %d (%q), committed %d", chaosTopic, r.Partition, r.Offset, r.Value, lastCommitted[r.Partition])
		}
	}
	for _, bad := range []string{"panic", "DATA RACE", "fatal error"} {
		if n.logsContain(bad) {
			t.Fatalf("the node's log has %q", bad)
		}
	}
	t.Logf("the node logged %d lines; its warnings and errors: %v", n.logLines(""), n.problemSummary())
}

// problemSummary counts the node's warn and error log lines by message, for a reader of a
// soak's output to see what the crashes made it repair.
func (n *node) problemSummary() map[string]int {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	out := map[string]int{}
	for _, line := range n.logs {
		var entry struct {
			Level   string `json:"level"`
			Message string `json:"message"`
			Reason  string `json:"reason"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || (entry.Level != "warn" && entry.Level != "error") {
			continue
		}
		key := entry.Level + ": " + entry.Message
		if entry.Reason != "" {
			// The reason's start: the rest names files and offsets.
			key += " (" + entry.Reason[:min(len(entry.Reason), 32)] + ")"
		}
		out[key]++
	}
	return out
}

const retainedTopic = "chaos-retained"

// checkRetained stops the retained topic's deletions, then checks what is left: offsets
// dense from the log start, and there every record acknowledged at or past it, at the
// offset it was acknowledged at, once, in order.
func checkRetained(t *testing.T, n *node, p *chaosProducer) {
	t.Helper()
	ctx := testContext(t)
	unlimited := "-1"
	rs, err := n.admin().AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.bytes", Value: &unlimited}}, retainedTopic)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("stop %s's retention: %v %v", retainedTopic, err, rs)
	}
	// A retention pass that had started before the change may still delete a segment:
	// wait until the log start has held for a few check intervals.
	cl := n.rawClient()
	start, since := offsetOf(t, cl, retainedTopic, 0, -2), time.Now()
	eventually(t, 30*time.Second, retainedTopic+"'s log start to settle", func() bool {
		if now := offsetOf(t, cl, retainedTopic, 0, -2); now != start {
			start, since = now, time.Now()
		}
		return time.Since(since) > time.Second
	})
	end := offsetOf(t, cl, retainedTopic, 0, -1)
	recs := readPartition(t, n, retainedTopic, 0, start, end)
	checkContiguous(t, retainedTopic+"/0", recs, start)
	last := int64(-1)
	for _, r := range recs {
		var id int
		var seq int64
		if _, err := fmt.Sscanf(string(r.Value), "p%d-%d", &id, &seq); err != nil || id != p.id {
			t.Fatalf("%s/0 offset %d holds %q, which its producer never sent", retainedTopic, r.Offset, r.Value)
		}
		ack, ok := p.acked[seq]
		if !ok || ack.offset != r.Offset {
			t.Fatalf("%s/0 offset %d holds record %d, acknowledged at %+v (%v)", retainedTopic, r.Offset, seq, ack, ok)
		}
		if seq <= last {
			t.Fatalf("%s/0 offset %d: record %d after record %d", retainedTopic, r.Offset, seq, last)
		}
		last = seq
	}
	kept := 0
	for _, ack := range p.acked {
		if ack.offset >= start {
			kept++
		}
	}
	if kept != len(recs) {
		t.Fatalf("%s/0: %d records acknowledged at or past the log start %d, %d there", retainedTopic, kept, start, len(recs))
	}
	if len(p.failed) > 0 {
		t.Fatalf("%s: %d records failed", retainedTopic, len(p.failed))
	}
	t.Logf("%s: log start %d of %d after the crashes", retainedTopic, start, end)
}

// checkChaosLogs reads every partition from the start with a plain consumer and checks
// the producers' records: each acknowledged one exactly once where it was acknowledged,
// none unknown, each producer's records in order within a partition, offsets dense,
// batches intact.
func checkChaosLogs(t *testing.T, n *node, producers []*chaosProducer) {
	t.Helper()
	cl := n.rawClient()
	found := 0
	for p := int32(0); p < chaosPartitions; p++ {
		end := offsetOf(t, cl, chaosTopic, p, -1)
		checkBatchesValid(t, cl, chaosTopic, p, end)
		recs := readPartition(t, n, chaosTopic, p, 0, end)
		checkContiguous(t, fmt.Sprintf("%s/%d", chaosTopic, p), recs, 0)
		checkTimeIndex(t, cl, chaosTopic, p, recs)
		lastSeq := map[int]int64{}
		seen := map[string]int64{}
		for _, r := range recs {
			v := string(r.Value)
			if at, dup := seen[v]; dup {
				t.Fatalf("%s/%d: %s at offsets %d and %d", chaosTopic, p, v, at, r.Offset)
			}
			seen[v] = r.Offset
			var id int
			var seq int64
			if _, err := fmt.Sscanf(v, "p%d-%d", &id, &seq); err != nil || id < 0 || id >= len(producers) {
				t.Fatalf("%s/%d offset %d holds %q, which no producer sent", chaosTopic, p, r.Offset, v)
			}
			if h := r.Headers; len(h) != 1 || string(h[0].Value) != strconv.FormatInt(seq, 10) {
				t.Fatalf("%s/%d offset %d: %q has headers %v", chaosTopic, p, r.Offset, v, h)
			}
			if last, ok := lastSeq[id]; ok && seq <= last {
				t.Fatalf("%s/%d offset %d: producer %d record %d after its record %d", chaosTopic, p, r.Offset, id, seq, last)
			}
			lastSeq[id] = seq
			ack, ok := producers[id].acked[seq]
			if !ok {
				t.Fatalf("%s/%d offset %d holds %q, which was never acknowledged", chaosTopic, p, r.Offset, v)
			}
			if ack.partition != p || ack.offset != r.Offset {
				t.Fatalf("%s acknowledged at %d/%d, found at %d/%d", v, ack.partition, ack.offset, p, r.Offset)
			}
			found++
		}
	}
	acked := 0
	for _, p := range producers {
		acked += len(p.acked)
	}
	if found != acked {
		t.Fatalf("%d records acknowledged, %d in the logs", acked, found)
	}
}

// checkTimeIndex checks ListOffsets by timestamp against the records themselves: for a
// sample of record timestamps, the answer is the first record at or after that time. The
// time indexes of segments sealed, rolled and recovered across the crashes answer it.
func checkTimeIndex(t *testing.T, cl kmsg.Requestor, topic string, partition int32, recs []*kgo.Record) {
	t.Helper()
	if len(recs) == 0 {
		return
	}
	step := max(1, len(recs)/40) // a sample: each ListOffsets is a round trip
	newest := int64(-1)
	for _, r := range recs {
		newest = max(newest, r.Timestamp.UnixMilli())
	}
	for i := 0; i < len(recs); i += step {
		ts := recs[i].Timestamp.UnixMilli()
		want := int64(-1)
		for _, r := range recs {
			if r.Timestamp.UnixMilli() >= ts {
				want = r.Offset
				break
			}
		}
		got := listOffset(t, cl, topic, partition, ts)
		if got.ErrorCode != 0 || got.Offset != want {
			t.Fatalf("%s/%d: ListOffsets at timestamp %d gave offset %d (error %d), the first record at or after it is at %d",
				topic, partition, ts, got.Offset, got.ErrorCode, want)
		}
	}
	if got := listOffset(t, cl, topic, partition, newest+1); got.Offset != -1 {
		t.Fatalf("%s/%d: ListOffsets past the newest timestamp gave offset %d", topic, partition, got.Offset)
	}
}

// checkChaosTopics checks the churn's topics: those acknowledged as created exist, with
// the retention.ms last acknowledged and only their own incarnation's record; those
// acknowledged as deleted do not exist.
func checkChaosTopics(t *testing.T, n *node, churn *chaosChurn) {
	t.Helper()
	ctx := testContext(t)
	names := map[string]bool{}
	for _, name := range n.topicNames(ctx) {
		names[name] = true
	}
	details, err := n.admin().ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var existing []string
	cl := n.rawClient()
	for name, state := range churn.topics {
		counts[state]++
		switch {
		case state == "exists" && !names[name]:
			t.Fatalf("topic %s was created and never deleted, but is gone", name)
		case state == "deleted" && names[name]:
			t.Fatalf("topic %s was deleted, but exists", name)
		case state == "exists":
			existing = append(existing, name)
			if want, got := churn.partitions[name], len(details[name].Partitions); want > 0 && got != want {
				t.Fatalf("topic %s has %d partitions, %d acknowledged", name, got, want)
			}
			want := incarnationValue(name, churn.incarnation[name])
			start, end := offsetOf(t, cl, name, 0, -2), offsetOf(t, cl, name, 0, -1)
			if trimmed := churn.trimmedTo[name]; start < trimmed {
				t.Fatalf("topic %s/0 starts at %d, but records up to %d were deleted", name, start, trimmed)
			}
			recs := readPartition(t, n, name, 0, start, end)
			for _, r := range recs {
				if string(r.Value) != want {
					t.Fatalf("topic %s (incarnation %d) holds %q at offset %d", name, churn.incarnation[name], r.Value, r.Offset)
				}
			}
			if churn.written[name] && end == 0 {
				t.Fatalf("topic %s lost its acknowledged record %q", name, want)
			}
		}
	}
	rcs, err := n.admin().DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		want, ok := churn.configs[rc.Name]
		if want == "unknown" || !ok {
			continue
		}
		got := ""
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" && c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
				got = *c.Value
			}
		}
		if got != want {
			t.Fatalf("topic %s retention.ms %q, acknowledged %q", rc.Name, got, want)
		}
	}
	t.Logf("churn topics: %v, %d incarnations", counts, sumValues(churn.incarnation))
	if counts["exists"]+counts["deleted"] == 0 {
		t.Fatal("the churn created no topic")
	}
}

func sumValues(m map[string]int) int {
	sum := 0
	for _, v := range m {
		sum += v
	}
	return sum
}
