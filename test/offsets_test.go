package test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// produceBatch sends one hand-built batch and returns its base offset, failing the test
// on any error.
func produceBatch(t *testing.T, cl kmsg.Requestor, topic string, partition int32, opts batchtest.Options, recs []batchtest.Record) int64 {
	t.Helper()
	p := produceRaw(t, cl, topic, partition, batchtest.Build(opts, recs))
	if p.ErrorCode != 0 {
		t.Fatalf("produce to %s/%d: error %d (%v)", topic, partition, p.ErrorCode, p.ErrorMessage)
	}
	return p.BaseOffset
}

// sameTimestamp returns n records that all carry the batch's first timestamp.
func sameTimestamp(n int, prefix string) []batchtest.Record {
	recs := make([]batchtest.Record, n)
	for i := range recs {
		recs[i] = batchtest.Record{Value: fmt.Appendf(nil, "%s-%d", prefix, i)}
	}
	return recs
}

func TestListOffsets(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "lo", 2, nil)
	cl := n.rawClient()

	// An empty partition: earliest = latest = 0, and no record has a timestamp.
	if e, l := offsetOf(t, cl, "lo", 0, -2), offsetOf(t, cl, "lo", 0, -1); e != 0 || l != 0 {
		t.Fatalf("empty partition: earliest %d, latest %d", e, l)
	}
	if p := listOffset(t, cl, "lo", 0, -3); p.ErrorCode != 0 || p.Offset != -1 {
		t.Fatalf("max timestamp of an empty partition: %+v", p)
	}

	// Three batches, timestamps out of order: offsets 0-9 at t0, offset 10 at t0+2000,
	// offsets 11-20 at t0+1000.
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	at := batchtest.DefaultOptions
	if b := produceBatch(t, cl, "lo", 0, at(t0), sameTimestamp(10, "a")); b != 0 {
		t.Fatalf("first batch at %d", b)
	}
	if b := produceBatch(t, cl, "lo", 0, at(t0+2000), sameTimestamp(1, "b")); b != 10 {
		t.Fatalf("second batch at %d", b)
	}
	if b := produceBatch(t, cl, "lo", 0, at(t0+1000), sameTimestamp(10, "c")); b != 11 {
		t.Fatalf("third batch at %d", b)
	}

	for _, c := range []struct {
		name           string
		ts             int64
		offset, wantTS int64
	}{
		{"latest", -1, 21, -1},
		{"earliest", -2, 0, -1},
		{"max timestamp", -3, 10, t0 + 2000},
		{"before everything", t0 - 1, 0, t0},
		{"exactly the first timestamp", t0, 0, t0},
		// The first offset whose timestamp is at or after the target is 10, though
		// later offsets carry earlier timestamps.
		{"between", t0 + 1, 10, t0 + 2000},
		{"the largest timestamp", t0 + 2000, 10, t0 + 2000},
		{"after everything", t0 + 2001, -1, -1},
	} {
		p := listOffset(t, cl, "lo", 0, c.ts)
		if p.ErrorCode != 0 || p.Offset != c.offset || (c.wantTS != -1 && p.Timestamp != c.wantTS) {
			t.Errorf("%s (%d): offset %d timestamp %d error %d, want offset %d timestamp %d", c.name, c.ts, p.Offset, p.Timestamp, p.ErrorCode, c.offset, c.wantTS)
		}
	}
	// The other partition is untouched.
	if l := offsetOf(t, cl, "lo", 1, -1); l != 0 {
		t.Fatalf("partition 1 latest %d", l)
	}
	// kadm, as tools use it, agrees.
	adm := n.admin()
	ends, err := adm.ListEndOffsets(testContext(t), "lo")
	if err != nil || ends.Error() != nil {
		t.Fatalf("ListEndOffsets: %v %v", err, ends.Error())
	}
	if o, _ := ends.Lookup("lo", 0); o.Offset != 21 {
		t.Fatalf("kadm end offset %d", o.Offset)
	}

	// After DeleteRecords the earliest offset, and a time lookup that would land below it,
	// answer the new log start.
	deleteRecords(t, n, "lo", 0, 5)
	if e := offsetOf(t, cl, "lo", 0, -2); e != 5 {
		t.Fatalf("earliest after DeleteRecords: %d", e)
	}
	if o := offsetOf(t, cl, "lo", 0, t0); o != 5 {
		t.Fatalf("offset for t0 after DeleteRecords: %d", o)
	}
	if o := offsetOf(t, cl, "lo", 0, -4); o != 5 { // earliest local: nothing is tiered
		t.Fatalf("earliest local offset after DeleteRecords: %d", o)
	}

	// Partitions that do not exist.
	if p := listOffset(t, cl, "lo", 7, -1); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("partition 7: %+v", p)
	}
	if p := listOffset(t, cl, "no-such-topic", 0, -1); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %+v", p)
	}
}

// deleteRecords moves a partition's log start to offset with kadm and returns the low
// watermark the broker answered, failing on an error.
func deleteRecords(t *testing.T, n *node, topic string, partition int32, offset int64) int64 {
	t.Helper()
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset, LeaderEpoch: -1})
	resps, err := n.admin().DeleteRecords(testContext(t), offsets)
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	r, ok := resps.Lookup(topic, partition)
	if !ok || r.Err != nil {
		t.Fatalf("DeleteRecords %s/%d before %d: %v (answered: %v)", topic, partition, offset, r.Err, ok)
	}
	return r.LowWatermark
}

// produceValues produces count records "<prefix>-<i>" to one partition in batches of
// perBatch, synchronously, and returns them with their offsets set.
func produceValues(t *testing.T, n *node, topic string, partition int32, prefix string, count, perBatch int, ts time.Time) []*kgo.Record {
	t.Helper()
	cl := n.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	var all []*kgo.Record
	for i := 0; i < count; i += perBatch {
		var recs []*kgo.Record
		for j := i; j < min(count, i+perBatch); j++ {
			recs = append(recs, &kgo.Record{Partition: partition, Timestamp: ts, Value: fmt.Appendf(nil, "%s-%04d-%s", prefix, j, strings.Repeat("x", 60))})
		}
		produceAll(t, cl, recs)
		all = append(all, recs...)
	}
	return all
}

// segmentBases lists the base offsets of a partition's segment files on disk.
func segmentBases(t *testing.T, n *node, topic string, partition int32) []int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(n.dir, "data", "partitions", fmt.Sprintf("%s-%d", topic, partition), "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	var bases []int64
	for _, f := range files {
		b, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(f), ".log"), 10, 64)
		if err != nil {
			t.Fatalf("segment file %s: %v", f, err)
		}
		bases = append(bases, b)
	}
	slices.Sort(bases)
	return bases
}

func TestDeleteRecords(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "dr", 2, map[string]string{"segment.bytes": "2048"})
	recs := produceValues(t, n, "dr", 0, "p0", 100, 10, time.Now())
	other := produceValues(t, n, "dr", 1, "p1", 20, 10, time.Now())
	if len(segmentBases(t, n, "dr", 0)) < 3 {
		t.Fatalf("segments of dr-0: %v; the test needs several", segmentBases(t, n, "dr", 0))
	}
	cl := n.rawClient()

	if lw := deleteRecords(t, n, "dr", 0, 42); lw != 42 {
		t.Fatalf("low watermark %d after deleting before 42", lw)
	}
	checkDeletedBefore := func(start int64) {
		t.Helper()
		cl := n.rawClient() // a new connection: the node may have been restarted
		if e := offsetOf(t, cl, "dr", 0, -2); e != start {
			t.Fatalf("earliest %d, want %d", e, start)
		}
		if p := fetchRaw(t, cl, "dr", 0, start-1); p.ErrorCode != kerr.OffsetOutOfRange.Code || p.LogStartOffset != start {
			t.Fatalf("fetch below the log start: error %d log start %d", p.ErrorCode, p.LogStartOffset)
		}
		// Segments wholly below the log start go from disk. Their files are unlinked on a
		// goroutine of the log's own after DeleteRecords answers (freeing a large file's
		// blocks would stall the partition), so they go soon after, not at once.
		var bases []int64
		eventually(t, 10*time.Second, fmt.Sprintf("the segments below log start %d to go from disk", start), func() bool {
			bases = segmentBases(t, n, "dr", 0)
			return len(bases) < 2 || bases[1] > start
		})
		if bases[0] > start {
			t.Fatalf("segments %v left for log start %d: the one holding it is gone too", bases, start)
		}
		// A consumer from the start sees exactly the records from the new start.
		got := consumeN(t, n, "dr", 100-int(start)+len(other))
		var p0 []*kgo.Record
		for _, r := range got {
			if r.Partition == 0 {
				p0 = append(p0, r)
			}
		}
		checkContiguous(t, "dr-0 after DeleteRecords", p0, start)
		for _, r := range p0 {
			if diff := sameRecord(r, recs[r.Offset]); diff != "" {
				t.Fatalf("offset %d: %s", r.Offset, diff)
			}
		}
		if len(got)-len(p0) != len(other) {
			t.Fatalf("dr-1 lost records: %d left of %d", len(got)-len(p0), len(other))
		}
	}
	checkDeletedBefore(42)

	// Lower than the current start changes nothing; beyond the high watermark is refused.
	if lw := deleteRecords(t, n, "dr", 0, 10); lw != 42 {
		t.Fatalf("deleting before 10 moved the low watermark to %d", lw)
	}
	var beyond kadm.Offsets
	beyond.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 101, LeaderEpoch: -1})
	resps, err := n.admin().DeleteRecords(testContext(t), beyond)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resps.Lookup("dr", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("deleting beyond the high watermark: %v", r.Err)
	}

	// The new start survives kill -9.
	n.restart()
	checkDeletedBefore(42)

	// -1 deletes up to the high watermark; the partition stays writable after it.
	cl = n.rawClient()
	if lw := deleteRecords(t, n, "dr", 0, -1); lw != 100 {
		t.Fatalf("low watermark %d after deleting everything", lw)
	}
	if e, l := offsetOf(t, cl, "dr", 0, -2), offsetOf(t, cl, "dr", 0, -1); e != 100 || l != 100 {
		t.Fatalf("after deleting everything: earliest %d latest %d", e, l)
	}
	more := produceValues(t, n, "dr", 0, "again", 5, 5, time.Now())
	if more[0].Offset != 100 {
		t.Fatalf("first record after deleting everything at %d", more[0].Offset)
	}
	got := readPartition(t, n, "dr", 0, 100, 105)
	for i, r := range got {
		if diff := sameRecord(r, more[i]); diff != "" {
			t.Fatalf("offset %d: %s", r.Offset, diff)
		}
	}
}

// TestRetentionRemovesOldSegments: with small segments and a fast retention check, old
// segments go (by age and by size), the earliest offset moves, new data stays.
func TestRetentionRemovesOldSegments(t *testing.T) {
	n := startNode(t, "log.retention.check.interval.ms = 100\nlog.flush.interval.ms = 100")
	cl := n.rawClient()

	t.Run("retention.ms", func(t *testing.T) {
		createTopic(t, n, "ret-time", 1, map[string]string{"segment.bytes": "2048", "retention.ms": "3600000"})
		// Records stamped two hours ago fill several segments; then current ones follow.
		old := produceValues(t, n, "ret-time", 0, "old", 150, 10, time.Now().Add(-2*time.Hour))
		fresh := produceValues(t, n, "ret-time", 0, "new", 60, 10, time.Now())
		firstNew := fresh[0].Offset
		if firstNew != int64(len(old)) {
			t.Fatalf("first new record at %d", firstNew)
		}
		// Every segment holding only old records goes; the one holding the first new
		// record stays, and becomes the start of the log.
		var keep int64
		for _, b := range segmentBases(t, n, "ret-time", 0) {
			if b <= firstNew {
				keep = b
			}
		}
		if keep == 0 {
			t.Fatalf("old records did not fill a segment of their own: segments %v", segmentBases(t, n, "ret-time", 0))
		}
		eventually(t, 20*time.Second, "retention to delete the old segments", func() bool {
			return offsetOf(t, cl, "ret-time", 0, -2) == keep
		})
		eventually(t, 10*time.Second, "the files of the expired segments to go", func() bool {
			return segmentBases(t, n, "ret-time", 0)[0] == keep
		})
		if p := fetchRaw(t, cl, "ret-time", 0, 0); p.ErrorCode != kerr.OffsetOutOfRange.Code {
			t.Fatalf("fetch at offset 0 after retention: error %d", p.ErrorCode)
		}
		got := readPartition(t, n, "ret-time", 0, keep, firstNew+int64(len(fresh)))
		checkContiguous(t, "ret-time after retention", got, keep)
		all := append(old, fresh...)
		for _, r := range got {
			if diff := sameRecord(r, all[r.Offset]); diff != "" {
				t.Fatalf("offset %d: %s", r.Offset, diff)
			}
		}
		if !n.logsSoonContain("retention deleted segments", "ret-time-0") {
			t.Fatal("retention did not log what it deleted")
		}
	})

	// A quiet partition whose records have all expired loses them although its one
	// segment never filled: as in Kafka, retention rolls and deletes the active segment
	// rather than leaving the records for segment.ms (7 days) to roll.
	t.Run("retention.ms, active segment", func(t *testing.T) {
		createTopic(t, n, "ret-quiet", 1, map[string]string{"retention.ms": "3600000"})
		old := produceValues(t, n, "ret-quiet", 0, "old", 20, 10, time.Now().Add(-2*time.Hour))
		end := int64(len(old))
		eventually(t, 20*time.Second, "retention to delete the expired active segment", func() bool {
			return offsetOf(t, cl, "ret-quiet", 0, -2) == end
		})
		eventually(t, 10*time.Second, "the expired active segment's file to go", func() bool {
			bases := segmentBases(t, n, "ret-quiet", 0)
			return len(bases) == 1 && bases[0] == end
		})
		fresh := produceValues(t, n, "ret-quiet", 0, "new", 5, 10, time.Now())
		if fresh[0].Offset != end {
			t.Fatalf("first record after retention emptied the log at offset %d, want %d", fresh[0].Offset, end)
		}
		got := readPartition(t, n, "ret-quiet", 0, end, end+int64(len(fresh)))
		checkContiguous(t, "ret-quiet after retention", got, end)
	})

	t.Run("retention.bytes", func(t *testing.T) {
		const limit = 6000
		createTopic(t, n, "ret-size", 1, map[string]string{"segment.bytes": "2048", "retention.bytes": strconv.Itoa(limit)})
		recs := produceValues(t, n, "ret-size", 0, "r", 300, 10, time.Now())
		end := int64(len(recs))
		eventually(t, 20*time.Second, "retention to shrink the log to retention.bytes", func() bool {
			info := partitionInfo(t, n, "ret-size", 0)
			// Kafka's rule: drop the oldest segment while the rest still hold the limit,
			// so what is left is under the limit plus one segment.
			return info.LogStartOffset > 0 && info.SizeBytes <= limit+2048
		})
		start := offsetOf(t, cl, "ret-size", 0, -2)
		// Deleted segments leave the log at once; their files go on a goroutine of their own.
		eventually(t, 10*time.Second, "the files of segments below the log start to go", func() bool {
			return segmentBases(t, n, "ret-size", 0)[0] == start
		})
		// Retention never takes the log below the limit, and the newest records are all
		// there.
		if size := partitionInfo(t, n, "ret-size", 0).SizeBytes; size < limit {
			t.Fatalf("retention left %d bytes, below retention.bytes %d", size, limit)
		}
		got := readPartition(t, n, "ret-size", 0, start, end)
		checkContiguous(t, "ret-size after retention", got, start)
		for _, r := range got {
			if diff := sameRecord(r, recs[r.Offset]); diff != "" {
				t.Fatalf("offset %d: %s", r.Offset, diff)
			}
		}
	})
}

// partitionInfoJSON is one entry of /debug/partitions.
type partitionInfoJSON struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	LogStartOffset int64  `json:"log_start_offset"`
	HighWatermark  int64  `json:"high_watermark"`
	LogEndOffset   int64  `json:"log_end_offset"`
	SizeBytes      int64  `json:"size_bytes"`
	ParkedFetches  int64  `json:"parked_fetches"`
}

func partitionInfo(t *testing.T, n *node, topic string, partition int32) partitionInfoJSON {
	t.Helper()
	p, ok := findPartitionInfo(n, topic, partition)
	if !ok {
		t.Fatalf("partition %s/%d not in /debug/partitions", topic, partition)
	}
	return p
}

// findPartitionInfo is the partition's entry in /debug/partitions; ok is false while the
// partition is not open on the node.
func findPartitionInfo(n *node, topic string, partition int32) (partitionInfoJSON, bool) {
	var out struct {
		Partitions []partitionInfoJSON `json:"partitions"`
	}
	n.debugJSON("/debug/partitions", &out)
	for _, p := range out.Partitions {
		if p.Topic == topic && p.Partition == partition {
			return p, true
		}
	}
	return partitionInfoJSON{}, false
}

// DeleteRecords is refused with POLICY_VIOLATION on a topic whose cleanup.policy does not
// include delete, as Kafka refuses it ("Records of partition ... can not be deleted due to
// the configured policy"): a compacted topic's log start stays where it is. Once the
// policy includes delete, the same request moves it.
func TestDeleteRecordsRefusedWithoutTheDeletePolicy(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "changelog", 1, map[string]string{"cleanup.policy": "compact"})
	cl := n.client(kgo.DefaultProduceTopic("changelog"))
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
	}
	produceAll(t, cl, recs)

	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "changelog", Partition: 0, At: 5, LeaderEpoch: -1})
	resps, err := n.admin().DeleteRecords(testContext(t), offsets)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resps.Lookup("changelog", 0); !errors.Is(r.Err, kerr.PolicyViolation) {
		t.Fatalf("DeleteRecords on a compact-only topic answered %v (low watermark %d), want POLICY_VIOLATION", r.Err, r.LowWatermark)
	}
	if e := offsetOf(t, n.rawClient(), "changelog", 0, -2); e != 0 {
		t.Fatalf("earliest offset %d after a refused DeleteRecords, want 0", e)
	}

	alter := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: strp("compact,delete")}}
	if r, err := n.admin().AlterTopicConfigs(testContext(t), alter, "changelog"); err != nil || r[0].Err != nil {
		t.Fatalf("alter cleanup.policy: %v %+v", err, r)
	}
	if lw := deleteRecords(t, n, "changelog", 0, 5); lw != 5 {
		t.Fatalf("low watermark %d after DeleteRecords under compact,delete, want 5", lw)
	}
}
