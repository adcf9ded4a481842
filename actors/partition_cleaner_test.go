package actors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// firstFetchedBatch fetches from offset 0 and returns the header of the first batch.
func firstFetchedBatch(t *testing.T, n *Node, tp TopicPartition) batch.Header {
	t.Helper()
	fr := make(chan FetchReply, 1)
	n.Fetch(tp, &FetchRequest{Offset: 0, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, Reply: fr})
	f := <-fr
	if f.Code != 0 || len(f.Records) < batch.HeaderSize {
		t.Fatalf("fetch from 0: code %d, %d bytes", f.Code, len(f.Records))
	}
	h, _ := batch.ParseHeader(f.Records)
	if h.Size() > len(f.Records) {
		t.Fatalf("fetch from 0: %d bytes, a partial batch of %d", len(f.Records), h.Size())
	}
	if _, err := batch.CheckIntegrity(f.Records[:h.Size()]); err != nil {
		t.Fatalf("fetched batch: %v", err)
	}
	return h
}

// A compacted topic's partition is cleaned by the node on its own (log.cleaner.backoff.ms),
// and an idempotent producer's retry of its last batch, superseded by another producer's
// record, still gets the batch's original offset after the clean and after a restart that
// rebuilds producer state from the cleaned log.
func TestCompactedPartitionIsCleanedAndKeepsProducerState(t *testing.T) {
	dir := t.TempDir()
	backoff := func(o *Options) { o.Data.CleanerBackoff = 20 * time.Millisecond }
	n := startTestNode(t, dir, "bbolt", 1000, backoff)
	const topic = "cleaned"
	res, err := n.Propose(context.Background(), fsm.Command{CreateTopic: &fsm.CreateTopic{
		Name: topic, ID: metastore.NewUUID(), Replicas: [][]int32{{1}},
		Configs: map[string]string{"cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0.01"}}})
	if err != nil || !res[0].OK() {
		t.Fatalf("create topic: %v %+v", err, res)
	}
	tp := TopicPartition{Topic: topic, Partition: 0}
	// Producer 42 updates k 100 times; producer 43 then overwrites k once more and writes
	// records of other keys, which seal the segments. Producer 42's last batch is
	// superseded, but the cleaner keeps it: it is what a restart learns 42's sequence from.
	const updates, fillers = 100, 20
	produce := func(pid int64, seq int32, key string, want int64) []byte {
		opts := batchtest.DefaultOptions(time.Now().UnixMilli())
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = pid, 0, seq
		b := batchtest.Build(opts, []batchtest.Record{{Key: []byte(key), Value: fmt.Appendf(nil, "%s %d %0100d", key, seq, 0)}})
		if r := produceOne(t, n.Node, tp, append([]byte(nil), b...)); r.Code != 0 || r.BaseOffset != want {
			t.Fatalf("produce %d/%d: %+v, want offset %d", pid, seq, r, want)
		}
		return b
	}
	var last []byte
	for i := 0; i < updates; i++ {
		last = produce(42, int32(i), "k", int64(i))
	}
	produce(43, 0, "k", updates)
	for i := 1; i <= fillers; i++ {
		produce(43, int32(i), fmt.Sprintf("filler-%d", i), int64(updates+i))
	}

	deadline := time.Now().Add(20 * time.Second)
	for firstFetchedBatch(t, n.Node, tp).BaseOffset != updates-1 {
		if time.Now().After(deadline) {
			t.Fatalf("not cleaned within 20s: the first batch is at %d, want the last update at %d", firstFetchedBatch(t, n.Node, tp).BaseOffset, updates-1)
		}
		time.Sleep(20 * time.Millisecond) // the cleaner checks every 20 ms
	}
	if info, _ := n.PartitionInfo(tp); info.LogStartOffset != 0 || info.LogEndOffset != updates+fillers+1 {
		t.Fatalf("after the clean: %+v, want offsets [0, %d)", info, updates+fillers+1)
	}

	retry := func(when string) {
		t.Helper()
		if r := produceOne(t, n.Node, tp, append([]byte(nil), last...)); r.Code != 0 || r.BaseOffset != updates-1 {
			t.Fatalf("producer 42 retried its last batch %s: %+v, want its original offset %d", when, r, updates-1)
		}
	}
	retry("after the clean")
	n.stop(t)
	// Without the snapshot, producer state comes from the cleaned log's batch headers.
	if err := os.Remove(filepath.Join(dir, "partitions", topic+"-0", producerSnapshotFile)); err != nil {
		t.Fatal(err)
	}
	n = startTestNode(t, dir, "bbolt", 1000, backoff)
	defer n.stop(t)
	retry("after a restart")
	if h := firstFetchedBatch(t, n.Node, tp); h.BaseOffset != updates-1 {
		t.Fatalf("after a restart the first batch is at %d, want %d", h.BaseOffset, updates-1)
	}
}
