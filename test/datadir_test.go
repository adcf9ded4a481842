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

// TestTruncatedStoreRefusedWithAnError cuts meta.db, then raft.db, back to their two
// meta pages while the node is down. bbolt maps the missing pages and the node died of
// SIGBUS with a goroutine dump; it now exits 1 with an error naming the file.
func TestTruncatedStoreRefusedWithAnError(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "kept", 1, nil)
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, name := range []string{"meta.db", "raft.db"} {
		path := filepath.Join(n.dir, "data", name)
		intact, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 8192); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, chronikBin, "--config", n.config).CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), name+" is 8192 bytes") {
			t.Fatalf("start with %s truncated: %v; output:\n%.2000s", name, err, out)
		}
		if err := os.WriteFile(path, intact, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n.start()
	if names := n.topicNames(testContext(t)); len(names) != 1 || names[0] != "kept" {
		t.Fatalf("topics after the stores were put back: %v", names)
	}
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
