package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestDamagedSegmentAnswersStorageErrorWithoutRescanning damages a sealed segment below
// the recovery point (a flipped byte, and its offset index gone, so it must be rescanned)
// while the node is down. The node starts, says what is wrong, answers the partition's
// requests with KAFKA_STORAGE_ERROR and serves every other partition; and it does not
// re-read the damaged segment for every request that reaches the partition (which it
// did, logging each rescan, at every fetch and every second).
func TestDamagedSegmentAnswersStorageErrorWithoutRescanning(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "damaged", 1, map[string]string{"segment.bytes": "4096"})
	createTopic(t, n, "healthy", 1, nil)
	produceValues(t, n, "damaged", 0, "v", 200, 20, time.Now())
	if bases := segmentBases(t, n, "damaged", 0); len(bases) < 3 {
		t.Fatalf("segments %v: want several", bases)
	}
	if err := n.stop(); err != nil { // a clean stop: every segment is below the recovery point
		t.Fatalf("stop: %v", err)
	}

	stem := filepath.Join(n.dir, "data", "partitions", "damaged-0", fmt.Sprintf("%020d", 0))
	if err := os.Remove(stem + ".index"); err != nil {
		t.Fatal(err)
	}
	seg, err := os.ReadFile(stem + ".log")
	if err != nil {
		t.Fatal(err)
	}
	seg[len(seg)/2] ^= 0xff
	if err := os.WriteFile(stem+".log", seg, 0o644); err != nil {
		t.Fatal(err)
	}
	n.start()

	cl := n.rawClient()
	for range 30 {
		if p := fetchRaw(t, cl, "damaged", 0, 0); p.ErrorCode != kerr.KafkaStorageError.Code {
			t.Fatalf("fetch from the damaged partition: error %d, want KAFKA_STORAGE_ERROR", p.ErrorCode)
		}
	}
	if !n.logsSoonContain("damaged below the recovery point", "00000000000000000000.log") {
		t.Fatal("the node did not log which segment is damaged")
	}
	if rescans := n.logLines("wal: rebuilding index", "damaged-0"); rescans > 2 {
		t.Fatalf("the damaged segment was rescanned %d times for 30 fetches; want it tried again only now and then", rescans)
	}

	prod := n.client(kgo.DefaultProduceTopic("healthy"))
	produceAll(t, prod, []*kgo.Record{{Value: []byte("still served")}})
	if got := consumeN(t, n, "healthy", 1); string(got[0].Value) != "still served" {
		t.Fatalf("healthy topic read back %q", got[0].Value)
	}
}

// TestUnreadablePartitionMarkerKeepsTheData empties a partition's partition.metadata
// (the file naming the topic id its directory belongs to) while the node is down. The
// node used to take that for a deleted topic's directory and delete every record in it;
// now the partition answers KAFKA_STORAGE_ERROR, the log says which file is wrong, and
// once the operator removes the file the data is served again.
func TestUnreadablePartitionMarkerKeepsTheData(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "marked", 1, nil)
	produceValues(t, n, "marked", 0, "v", 100, 10, time.Now())
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	marker := filepath.Join(n.dir, "data", "partitions", "marked-0", "partition.metadata")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n.start()

	cl := n.rawClient()
	if p := fetchRaw(t, cl, "marked", 0, 0); p.ErrorCode != kerr.KafkaStorageError.Code {
		t.Fatalf("fetch with an unreadable partition.metadata: error %d, want KAFKA_STORAGE_ERROR", p.ErrorCode)
	}
	// Fetch v5 and older predate KAFKA_STORAGE_ERROR: as from Kafka, they get
	// NOT_LEADER_OR_FOLLOWER, which old consumers retry after a metadata refresh (Sarama
	// for Kafka 0.11 handed the storage error to its user instead).
	old := n.client(kgo.MaxVersions(kversion.V0_11_0()), kgo.RequestRetries(0)).SeedBrokers()[0] // Fetch v5
	if p := fetchRaw(t, old, "marked", 0, 0); p.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("Fetch v5 with an unreadable partition.metadata: error %d, want NOT_LEADER_OR_FOLLOWER", p.ErrorCode)
	}
	if !n.logsSoonContain("partition.metadata", "not a topic id") {
		t.Fatal("the node did not log what is wrong with the partition")
	}
	if bases := segmentBases(t, n, "marked", 0); len(bases) == 0 {
		t.Fatal("the partition's segments were deleted")
	}

	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	got := readPartition(t, n, "marked", 0, 0, 100)
	checkContiguous(t, "marked-0 after the marker was removed", got, 0)
}
