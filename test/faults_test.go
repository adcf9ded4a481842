package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// ackLog records what a producer was told: which records were acknowledged where.
type ackLog struct {
	mu     sync.Mutex
	acked  map[string]*kgo.Record // by value
	failed map[string]error
}

func (a *ackLog) done(r *kgo.Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.failed[string(r.Value)] = err
		return
	}
	a.acked[string(r.Value)] = r
}

func (a *ackLog) counts() (acked, failed int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked), len(a.failed)
}

// producerStream is a producer goroutine sending numbered records (key, value and a
// header) until stop is set; done closes when it has stopped.
type producerStream struct {
	stop     atomic.Bool
	produced atomic.Int64
	done     chan struct{}
}

// streamRecords starts a producerStream through prod, recording every outcome in acks.
// A paced stream pauses 1 ms every 20 records: a steady stream rather than a flood whose
// records the test would have to keep in memory.
func streamRecords(ctx context.Context, prod *kgo.Client, acks *ackLog, paced bool) *producerStream {
	s := &producerStream{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; !s.stop.Load() && ctx.Err() == nil; i++ {
			r := &kgo.Record{
				Key:     fmt.Appendf(nil, "k%d", i%101),
				Value:   fmt.Appendf(nil, "rec-%07d", i),
				Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}},
			}
			prod.Produce(ctx, r, acks.done)
			s.produced.Add(1)
			if paced && i%20 == 19 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	return s
}

// TestKillMidStreamFsyncAlways kills the node with SIGKILL while an idempotent acks=all
// producer is streaming to it under log.flush.policy = always, restarts it, and checks
// that every record the producer was told is written is there exactly once, at the offset
// it was acknowledged at, intact, in logs without holes, and that the producer itself
// carried on across the restart without losing or duplicating anything.
func TestKillMidStreamFsyncAlways(t *testing.T) {
	killMidStream(t, `log.flush.policy = "always"`, nil)
}

// TestKillMidStreamFsyncInterval is the same under the default policy, where a produce
// is acknowledged once written to the operating system: a process crash must lose none
// of it (the page cache survives the process), and the idempotent producer's state
// rebuilt from the log must recognise its retries.
func TestKillMidStreamFsyncInterval(t *testing.T) {
	killMidStream(t, `log.flush.policy = "interval"`, nil)
}

// TestKillMidStreamRecompressed is the fsync-always case on a topic whose compression.type
// makes the broker rewrite every batch (the producer's gzip stored as zstd): the rewritten
// batches survive the kill intact, and the producer's retries of batches stored rewritten
// are recognised, neither lost nor duplicated.
func TestKillMidStreamRecompressed(t *testing.T) {
	killMidStream(t, `log.flush.policy = "always"`, map[string]string{"compression.type": "zstd"},
		kgo.ProducerBatchCompression(kgo.GzipCompression()))
}

func killMidStream(t *testing.T, policy nodeConfig, topicConfigs map[string]string, producerOpts ...kgo.Opt) {
	n := startNode(t, policy)
	const topic, partitions = "durable", 4
	createTopic(t, n, topic, partitions, topicConfigs)
	prod := n.client(append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond),
		// Look for the restarted node soon instead of after kgo's default 5s.
		kgo.MetadataMinAge(250 * time.Millisecond)}, producerOpts...)...)
	acks := &ackLog{acked: map[string]*kgo.Record{}, failed: map[string]error{}}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stream := streamRecords(ctx, prod, acks, false)

	eventually(t, 30*time.Second, "5000 acknowledged records", func() bool {
		acked, _ := acks.counts()
		return acked >= 5000
	})
	n.kill()
	ackedAtKill, _ := acks.counts()
	if producedAtKill := stream.produced.Load(); int64(ackedAtKill) >= producedAtKill {
		t.Fatalf("nothing was in flight at the kill (%d produced, %d acknowledged)", producedAtKill, ackedAtKill)
	}
	stream.stop.Store(true)
	// Leave half a batch at the end of partition 0's log too, as a write the kill
	// interrupted would: recovery must cut it and keep everything before it.
	tearTail(t, n, topic, 0)
	// The producer may be blocked on a full buffer until the node is back.
	n.start()
	if !n.logsSoonContain("wal: truncating torn or corrupt tail", topic+"-0") {
		t.Fatal("recovery did not report cutting the torn tail")
	}
	<-stream.done

	// The producer retries what was in flight; the broker recognises what it already has.
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush after the restart: %v", err)
	}
	acked, failed := acks.counts()
	if failed != 0 {
		for v, err := range acks.failed {
			t.Fatalf("%d records failed across the restart, e.g. %s: %v", failed, v, err)
		}
	}
	if int64(acked) != stream.produced.Load() {
		t.Fatalf("%d records produced, %d acknowledged, none failed", stream.produced.Load(), acked)
	}
	t.Logf("%d records acknowledged before the kill, %d in all", ackedAtKill, acked)

	cl := n.rawClient()
	seen := map[string]bool{}
	for p := int32(0); p < partitions; p++ {
		end := offsetOf(t, cl, topic, p, -1)
		checkBatchesValid(t, cl, topic, p, end)
		recs := readPartition(t, n, topic, p, 0, end)
		checkContiguous(t, fmt.Sprintf("%s/%d after kill -9", topic, p), recs, 0)
		for _, r := range recs {
			v := string(r.Value)
			if seen[v] {
				t.Fatalf("%s is in the log twice", v)
			}
			seen[v] = true
			want, ok := acks.acked[v]
			if !ok {
				t.Fatalf("%s/%d offset %d holds %q, which was never produced", topic, p, r.Offset, v)
			}
			if want.Partition != p || want.Offset != r.Offset {
				t.Fatalf("%s acknowledged at %d/%d, found at %d/%d", v, want.Partition, want.Offset, p, r.Offset)
			}
			if diff := sameRecord(r, want); diff != "" {
				t.Fatalf("%s: %s", v, diff)
			}
		}
	}
	if len(seen) != acked {
		t.Fatalf("%d acknowledged records, %d in the logs", acked, len(seen))
	}
}

// checkBatchesValid fetches a partition raw up to end and validates every batch (length,
// CRC, record structure), independently of any client's checks.
func checkBatchesValid(t *testing.T, cl kmsg.Requestor, topic string, partition int32, end int64) {
	t.Helper()
	for off := int64(0); off < end; {
		p := fetchRaw(t, cl, topic, partition, off)
		if p.ErrorCode != 0 {
			t.Fatalf("fetch %s/%d at %d: error %d", topic, partition, off, p.ErrorCode)
		}
		batches, err := batch.Split(p.RecordBatches)
		if err != nil || len(batches) == 0 {
			t.Fatalf("fetch %s/%d at %d: %d batches, %v", topic, partition, off, len(batches), err)
		}
		for _, b := range batches {
			h, err := batch.Validate(b)
			if err != nil {
				t.Fatalf("%s/%d: batch near offset %d is corrupt: %v", topic, partition, off, err)
			}
			if h.LastOffset() < off || h.BaseOffset > off {
				t.Fatalf("%s/%d: batch %d-%d where offset %d was expected", topic, partition, h.BaseOffset, h.LastOffset(), off)
			}
			off = h.LastOffset() + 1
		}
	}
}

// TestPartitionPanicRestartsOnlyThatPartition makes one partition actor panic while
// producers write to the others: that actor restarts with its log, high watermark and
// producer state rebuilt from disk, and the other partitions never notice.
func TestPartitionPanicRestartsOnlyThatPartition(t *testing.T) {
	n := startNode(t, "")
	const topic = "panicky"
	createTopic(t, n, topic, 4, nil)
	prod := n.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var before []*kgo.Record
	for i := 0; i < 400; i++ {
		before = append(before, &kgo.Record{Partition: int32(i % 4), Value: fmt.Appendf(nil, "before-%d", i)})
	}
	produceAll(t, prod, before)
	victim := "node/partitions/" + topic + "-1"
	if r := restarts(t, n, victim); r != 0 {
		t.Fatalf("%s restarted %d times before the panic", victim, r)
	}

	// Producers on the other partitions run throughout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var others sync.WaitGroup
	var othersAcked atomic.Int64
	othersErr := make(chan error, 3)
	for _, p := range []int32{0, 2, 3} {
		others.Add(1)
		go func() {
			defer others.Done()
			cl := n.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			for i := 0; ctx.Err() == nil; i++ {
				err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "during-%d", i)}).FirstErr()
				if err != nil && ctx.Err() == nil {
					othersErr <- fmt.Errorf("partition %d: %w", p, err)
					return
				}
				othersAcked.Add(1)
			}
		}()
	}
	eventually(t, 10*time.Second, "the other partitions' producers to start", func() bool { return othersAcked.Load() > 30 })

	resp, err := http.Post("http://"+n.debugAddr+"/debug/panic?actor="+victim, "text/plain", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("inject panic into %s: %v %v", victim, err, resp)
	}
	resp.Body.Close()
	eventually(t, 10*time.Second, victim+" restarted", func() bool { return restarts(t, n, victim) == 1 })
	ackedAtRestart := othersAcked.Load()
	eventually(t, 10*time.Second, "the other partitions to keep taking writes", func() bool {
		return othersAcked.Load() > ackedAtRestart+30
	})
	cancel()
	others.Wait()
	close(othersErr)
	for err := range othersErr {
		t.Fatalf("a producer on another partition failed: %v", err)
	}
	for _, p := range []string{"0", "2", "3"} {
		if r := restarts(t, n, "node/partitions/"+topic+"-"+p); r != 0 {
			t.Fatalf("partition %s restarted %d times", p, r)
		}
	}
	if !n.logsSoonContain("actor panicked; restarting it from durable state", topic+"-1") {
		t.Fatal("the panic was not logged")
	}

	// The restarted partition has everything it had, and the same idempotent producer
	// carries on with its next sequence numbers (its state was rebuilt from the log).
	cl := n.rawClient()
	if l := offsetOf(t, cl, topic, 1, -1); l != 100 {
		t.Fatalf("partition 1 high watermark %d after its restart, want 100", l)
	}
	after := []*kgo.Record{{Partition: 1, Value: []byte("after-0")}, {Partition: 1, Value: []byte("after-1")}}
	produceAll(t, prod, after)
	if after[0].Offset != 100 {
		t.Fatalf("first record after the restart at %d", after[0].Offset)
	}
	got := readPartition(t, n, topic, 1, 0, 102)
	checkContiguous(t, "partition 1 after its restart", got, 0)
	var want []*kgo.Record
	for _, r := range before {
		if r.Partition == 1 {
			want = append(want, r)
		}
	}
	want = append(want, after...)
	for i, r := range got {
		if diff := sameRecord(r, want[i]); diff != "" {
			t.Fatalf("offset %d: %s", r.Offset, diff)
		}
	}
}

// tearTail appends the first half of a valid batch to a partition's active segment while
// the node is down.
func tearTail(t *testing.T, n *node, topic string, partition int32) {
	t.Helper()
	bases := segmentBases(t, n, topic, partition)
	path := filepath.Join(n.dir, "data", "partitions", fmt.Sprintf("%s-%d", topic, partition), fmt.Sprintf("%020d.log", bases[len(bases)-1]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), sameTimestamp(20, "torn"))
	if _, err := f.Write(b[:len(b)/2]); err != nil {
		t.Fatal(err)
	}
}

// requestFailures counts produce requests that got no answer (timed out, or their
// connection closed), through kgo's hooks.
type requestFailures struct{ n atomic.Int64 }

func (h *requestFailures) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key == 0 && e2e.Err() != nil {
		h.n.Add(1)
	}
}

// TestFrozenBrokerIdempotentRetries stops the node (SIGSTOP) for longer than the
// producer's request timeout while an idempotent producer streams to it. The producer
// gives up on the requests in flight and sends their batches again; when the node wakes
// it reads the abandoned requests and then the retries. Every record must end up in the
// log exactly once, each at the offset it was acknowledged at.
func TestFrozenBrokerIdempotentRetries(t *testing.T) {
	n := startNode(t, "")
	const topic, partitions = "frozen", 4
	createTopic(t, n, topic, partitions, nil)
	failures := &requestFailures{}
	prod := n.client(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond), kgo.WithHooks(failures),
		kgo.ProduceRequestTimeout(time.Second), kgo.RequestTimeoutOverhead(500*time.Millisecond))
	acks := &ackLog{acked: map[string]*kgo.Record{}, failed: map[string]error{}}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stream := streamRecords(ctx, prod, acks, true)
	eventually(t, 30*time.Second, "5000 acknowledged records", func() bool {
		acked, _ := acks.counts()
		return acked >= 5000
	})
	if err := n.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Wait on the client, not the clock: frozen until requests have timed out.
	eventually(t, 30*time.Second, "produce requests to time out against the frozen node", func() bool { return failures.n.Load() > 0 })
	if err := n.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	ackedAtThaw, _ := acks.counts()
	eventually(t, 30*time.Second, "acknowledgements to resume", func() bool {
		acked, _ := acks.counts()
		return acked > ackedAtThaw+5000
	})
	stream.stop.Store(true)
	<-stream.done
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	acked, failed := acks.counts()
	if failed != 0 || int64(acked) != stream.produced.Load() {
		t.Fatalf("%d records produced, %d acknowledged, %d failed", stream.produced.Load(), acked, failed)
	}

	cl := n.rawClient()
	seen := 0
	for p := int32(0); p < partitions; p++ {
		recs := readPartition(t, n, topic, p, 0, offsetOf(t, cl, topic, p, -1))
		checkContiguous(t, fmt.Sprintf("%s/%d after the freeze", topic, p), recs, 0)
		for _, r := range recs {
			want, ok := acks.acked[string(r.Value)]
			if !ok || want.Partition != p || want.Offset != r.Offset {
				t.Fatalf("%s/%d offset %d holds %q, acknowledged at %+v (found %v): a retry was written twice", topic, p, r.Offset, r.Value, want, ok)
			}
			if diff := sameRecord(r, want); diff != "" {
				t.Fatalf("%s: %s", r.Value, diff)
			}
			seen++
		}
	}
	if seen != acked {
		t.Fatalf("%d acknowledged records, %d in the logs", acked, seen)
	}
	t.Logf("%d produce requests timed out during the freeze; %d records, each once", failures.n.Load(), acked)
}
