package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSecondNodeOnTheSameDataDirRefuses starts a second node on a running node's data
// directory: it must exit with a message that says the directory is in use (it used to
// say only "open metadata store .../meta.db: timeout"), and the first node must keep
// serving.
func TestSecondNodeOnTheSameDataDirRefuses(t *testing.T) {
	n := startNode(t, "")
	dataDir := filepath.Join(n.dir, "data")
	cfg := filepath.Join(t.TempDir(), "second.toml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "listeners = %q\ndebug.listener = %q\ndata.dir = %q\n",
		freeAddr(t), freeAddr(t), dataDir), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	second := exec.CommandContext(ctx, chronikBin, "--config", cfg)
	second.Stderr = &stderr
	err := second.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("second node on the same data dir: %v (want exit status 1); stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "locked by another process") || !strings.Contains(stderr.String(), "meta.db") {
		t.Fatalf("second node's error does not say the data dir is in use:\n%s", stderr.String())
	}

	prod := n.client(kgo.DefaultProduceTopic("after-second"), kgo.AllowAutoTopicCreation())
	produceAll(t, prod, []*kgo.Record{{Value: []byte("first node serves")}})
	if got := consumeN(t, n, "after-second", 1); string(got[0].Value) != "first node serves" {
		t.Fatalf("read back %q", got[0].Value)
	}
}

// TestDamagedStoreIsRebuiltFromTheOther damages meta.db, then raft.db, while the node is
// down: garbled pages (bbolt panicked reading them: "assertion failed: Page expected to
// be", a goroutine dump and exit 2) and a cut-short file (bbolt died of SIGBUS; then the
// node refused to start). Each holds the metadata the other does, so the damaged one is
// moved aside and rebuilt from the other: topics, records and committed offsets all come
// back. With both damaged the node refuses to start, naming both, without a panic.
func TestDamagedStoreIsRebuiltFromTheOther(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "kept", 1, nil)
	produceValues(t, n, "kept", 0, "v", 10, 5, time.Now())
	commitOffset(t, n, "readers", "kept", 7)
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	data := filepath.Join(n.dir, "data")
	for _, damage := range []struct {
		file string
		do   func(t *testing.T, path string)
	}{{"meta.db", garbleBoltPages}, {"raft.db", truncateBoltFile}} {
		damage.do(t, filepath.Join(data, damage.file))
		n.start()
		if !n.logsSoonContain(damage.file + " is damaged: moved aside and rebuilt from") {
			t.Fatalf("the node did not say it rebuilt the damaged %s", damage.file)
		}
		if names := n.topicNames(testContext(t)); len(names) != 1 || names[0] != "kept" {
			t.Fatalf("topics after %s was rebuilt: %v", damage.file, names)
		}
		checkContiguous(t, "kept-0 after "+damage.file+" was rebuilt", readPartition(t, n, "kept", 0, 0, 10), 0)
		if got := committedOffset(t, n, "readers", "kept"); got != 7 {
			t.Fatalf("committed offset after %s was rebuilt: %d, want 7", damage.file, got)
		}
		if aside, _ := filepath.Glob(filepath.Join(data, damage.file+".damaged-*")); len(aside) != 1 {
			t.Fatalf("the damaged %s was not kept aside: %v", damage.file, aside)
		}
		if err := n.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}

	garbleBoltPages(t, filepath.Join(data, "meta.db"))
	garbleBoltPages(t, filepath.Join(data, "raft.db"))
	out := refusedStart(t, n)
	if !strings.Contains(out, "meta.db has damaged pages") || !strings.Contains(out, "raft.db has damaged pages") || strings.Contains(out, "goroutine ") {
		t.Fatalf("start with both stores damaged: want an error naming both and no panic; output:\n%.3000s", out)
	}
}

// TestDamagedOnlyCopyOfTheMetadataRefused: with raft.storage = "memory", meta.db is the
// only copy of the metadata, so a damaged one stops the node with a message that says
// what to do, instead of a bbolt panic.
func TestDamagedOnlyCopyOfTheMetadataRefused(t *testing.T) {
	n := startNode(t, `raft.storage = "memory"`)
	createTopic(t, n, "kept", 1, nil)
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	garbleBoltPages(t, filepath.Join(n.dir, "data", "meta.db"))
	out := refusedStart(t, n)
	if !strings.Contains(out, "meta.db has damaged pages") || !strings.Contains(out, "only copy of the metadata") || strings.Contains(out, "goroutine ") {
		t.Fatalf("start with the only metadata copy damaged: output:\n%.3000s", out)
	}
}

// refusedStart runs the node on n's config and returns its output, failing the test
// unless it exits 1.
func refusedStart(t *testing.T, n *node) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chronikBin, "--config", n.config).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("start: %v, want exit 1; output:\n%.3000s", err, out)
	}
	return string(out)
}

// garbleBoltPages overwrites every page of a bbolt file after its two meta pages, so the
// file opens and its buckets cannot be read.
func garbleBoltPages(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	if len(b) <= 2*page {
		t.Fatalf("%s has %d bytes: no page to garble", path, len(b))
	}
	for i := 2 * page; i < len(b); i++ {
		b[i] = byte(i*131 + 7)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// truncateBoltFile cuts a bbolt file back to its two meta pages.
func truncateBoltFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Truncate(path, int64(2*os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
}

// commitOffset commits offset for group on partition 0 of topic.
func commitOffset(t *testing.T, n *node, group, topic string, offset int64) {
	t.Helper()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: offset, LeaderEpoch: -1})
	if resp, err := n.admin().CommitOffsets(testContext(t), group, offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit %s/%s at %d: %v %v", group, topic, offset, err, resp.Error())
	}
}

// committedOffset is group's committed offset on partition 0 of topic (-1 for none).
func committedOffset(t *testing.T, n *node, group, topic string) int64 {
	t.Helper()
	offs, err := n.admin().FetchOffsets(testContext(t), group)
	if err != nil || offs.Error() != nil {
		t.Fatalf("fetch offsets of %s: %v %v", group, err, offs.Error())
	}
	if o, ok := offs.Lookup(topic, 0); ok {
		return o.At
	}
	return -1
}

// TestLostMetadataStoreKeepsPartitionData removes meta.db while the node is down. The
// node rebuilds the metadata from the Raft log, but it used to look at the partition
// directories first, with the store still empty, take every one for a deleted topic's and
// delete it: the topic came back with none of its records. Directories of topics that
// really are gone are still removed, once the metadata has caught up.
func TestLostMetadataStoreKeepsPartitionData(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "survivor", 1, nil)
	produceValues(t, n, "survivor", 0, "v", 100, 10, time.Now())
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	partitions := filepath.Join(n.dir, "data", "partitions")
	stray := filepath.Join(partitions, "gone-0")
	if err := os.Mkdir(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(n.dir, "data", "meta.db")); err != nil {
		t.Fatal(err)
	}
	n.start()

	got := readPartition(t, n, "survivor", 0, 0, 100)
	checkContiguous(t, "survivor-0 after meta.db was rebuilt", got, 0)
	eventually(t, 10*time.Second, "the unknown topic's directory to go", func() bool {
		_, err := os.Stat(stray)
		return errors.Is(err, os.ErrNotExist)
	})
}

// TestNewMetadataStoreKeepsPartitionData: with raft.storage = "memory" the metadata lives
// only in meta.db. With meta.db gone the node starts as a brand-new one, and it took
// every partition directory it found for a deleted topic's and deleted it: the one copy
// of the data went because of the lost metadata. Kafka's LogManager keeps a log its
// metadata does not know, renamed "-stray", and warns; so does the node now. A topic
// created again under the same name starts empty, as on Kafka, rather than taking up the
// forgotten topic's records and offsets.
func TestNewMetadataStoreKeepsPartitionData(t *testing.T) {
	n := startNode(t, `raft.storage = "memory"`)
	createTopic(t, n, "orphan", 1, nil)
	produceValues(t, n, "orphan", 0, "v", 10, 10, time.Now())
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := os.Remove(filepath.Join(n.dir, "data", "meta.db")); err != nil {
		t.Fatal(err)
	}
	n.start()
	if !n.logsSoonContain("partition directories kept aside as strays", "orphan-0.") {
		t.Fatal("the node did not say it kept the partition directories of unknown topics")
	}
	if n.logsContain("partition data moved aside") {
		t.Fatal("the node deleted partition data after starting with a new metadata store")
	}
	partitions := filepath.Join(n.dir, "data", "partitions")
	kept, err := filepath.Glob(filepath.Join(partitions, "orphan-0.*-stray", "00000000000000000000.log"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("orphan-0's segment kept aside: %v %v", kept, err)
	}
	createTopic(t, n, "orphan", 1, nil)
	cl := n.client()
	if end := offsetOf(t, cl, "orphan", 0, -1); end != 0 {
		t.Fatalf("orphan created again ends at offset %d, want 0: it took up the forgotten topic's log", end)
	}
	if _, err := os.Stat(kept[0]); err != nil {
		t.Fatalf("the kept segment after the topic was created again: %v", err)
	}
}
