package test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik/chronik-node/internal/disktest"
)

// TestDiskFullAnswersStorageErrorAndRecovers puts the data directory on a small tmpfs,
// fills it, and checks that produce answers KAFKA_STORAGE_ERROR while the node keeps
// serving, and that the partition takes writes again once space is freed.
func TestDiskFullAnswersStorageErrorAndRecovers(t *testing.T) {
	mnt := disktest.Tmpfs(t, "16m")

	n := startNodeAt(t, filepath.Join(mnt, "data"), "")
	ctx := testContext(t)
	if _, err := n.admin().CreateTopic(ctx, 2, 1, nil, "full"); err != nil {
		t.Fatal(err)
	}
	prod := n.client(kgo.DefaultProduceTopic("full"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(0), kgo.RequestRetries(0), kgo.DisableIdempotentWrite())
	produceAll(t, prod, []*kgo.Record{{Partition: 0, Value: []byte("before")}})

	// Take every free byte.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	// The partition's segment reserved disk blocks ahead of its appends before the disk
	// filled (wal/prealloc.go), and writes into them still succeed: produce until they
	// are used up. The first failure must be KAFKA_STORAGE_ERROR.
	value := make([]byte, 200<<10)
	written := 0
	for ; written < 100; written++ {
		if err = prod.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: value}).FirstErr(); err != nil {
			break
		}
	}
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("produce on a full disk after %d that fit: %v, want KAFKA_STORAGE_ERROR", written, err)
	}
	// Every produce fails while the disk is full, but the log says so about once a
	// second per partition, not once per request: it is often on the full disk itself.
	start := time.Now()
	for range 40 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: value}).FirstErr(); !errors.Is(err, kerr.KafkaStorageError) {
			t.Fatalf("produce on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
		}
	}
	if lines, most := n.logLines("append to partition log", "full-0"), int(time.Since(start).Seconds())+2; lines > most {
		t.Fatalf("%d log lines about failed appends for 41 failed produces in %v; want at most %d (one a second)", lines, time.Since(start), most)
	}
	// The node keeps serving: metadata and reads still work.
	if names := n.topicNames(ctx); len(names) != 1 {
		t.Fatalf("metadata on a full disk: %v", names)
	}
	got := consumeN(t, n, "full", 1)
	if string(got[0].Value) != "before" {
		t.Fatalf("read back %q", got[0].Value)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Partition 1 was never opened while the disk was full: it opens now, on first use.
	produceAll(t, prod, []*kgo.Record{{Partition: 0, Value: value}, {Partition: 1, Value: value}})
	recs := consumeN(t, n, "full", 3+written)
	if len(recs) != 3+written {
		t.Fatalf("%d records after space was freed, want %d (the failed writes left nothing behind)", len(recs), 3+written)
	}
}

// A sealed segment whose index file is gone is read whole at start and its index rebuilt;
// on a full disk the node could not write the rebuilt index, failed to open the
// partition, and answered KAFKA_STORAGE_ERROR to every read of its intact records (each
// request rescanning the segment) until space was freed. The index is written once there
// is room; meanwhile the records are served.
func TestMissingIndexOnAFullDiskStillServesReads(t *testing.T) {
	mnt := disktest.Tmpfs(t, "16m")
	n := startNodeAt(t, filepath.Join(mnt, "data"), "")
	const topic = "index-full"
	createTopic(t, n, topic, 1, map[string]string{"segment.bytes": "16384"})
	for i := 0; i < 30; i++ {
		produceNumbered(t, n, topic, i*100, 100)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "data", "partitions", topic+"-0")
	index := filepath.Join(dir, "00000000000000000000.index")
	if err := os.Remove(index); err != nil {
		t.Fatalf("the first segment is sealed and indexed: %v", err)
	}
	filler := filepath.Join(mnt, "filler")
	disktest.Fill(t, filler)
	n.start()

	ends, err := n.admin().ListEndOffsets(testContext(t), topic)
	if err != nil || ends[topic][0].Err != nil || ends[topic][0].Offset != 3000 {
		t.Fatalf("end offset on a full disk: %+v %v, want 3000", ends[topic][0], err)
	}
	recs := readPartition(t, n, topic, 0, 0, 3000)
	checkContiguous(t, "records on a full disk", recs, 0)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the rebuilt index written once there is room", func() bool {
		_, err := os.Stat(index)
		return err == nil
	})
}
