package test

import (
	"bytes"
	"debug/buildinfo"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// peakRSS is the node process's peak resident set (VmHWM) in bytes.
func (n *node) peakRSS() int64 {
	n.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		n.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				n.t.Fatal(err)
			}
			return kb << 10
		}
	}
	n.t.Fatalf("no VmHWM in /proc/%d/status", n.cmd.Process.Pid)
	return 0
}

// inflatingBatch is a batch of mib records of 1 MiB of zeros each, timestamps ts, ts+1, ...:
// tens of KiB compressed, mib MiB decompressed (a decompression bomb, or a producer's
// batch of very compressible data).
func inflatingBatch(codec int8, mib int, ts int64) []byte {
	opts := batchtest.DefaultOptions(ts)
	opts.Codec = codec
	recs := make([]batchtest.Record, mib)
	zeros := make([]byte, 1<<20)
	for i := range recs {
		recs[i] = batchtest.Record{Value: zeros, TimestampDelta: int64(i)}
	}
	return batchtest.Build(opts, recs)
}

// A lookup by timestamp inside a stored batch that inflates far past the produce check's
// bound finds the exact record, as Kafka does, without holding the batch's records:
// several at once, into 250 MiB batches, held 2.6 GiB when each decompressed its batch
// whole. The node's peak memory may grow by little during the lookups.
func TestTimestampLookupsInsideInflatingBatchesHoldLittleMemory(t *testing.T) {
	n := startNode(t, "")
	const parts = 4
	createTopic(t, n, "inflating", parts, nil)
	ts := time.Now().UnixMilli()
	cl := n.rawClient()
	for p := int32(0); p < parts; p++ {
		codec := batch.CodecZstd
		if p%2 == 1 {
			codec = batch.CodecGzip
		}
		if r := produceRaw(t, cl, "inflating", p, inflatingBatch(codec, 250, ts)); r.ErrorCode != 0 || r.BaseOffset != 0 {
			t.Fatalf("produce a batch inflating to 250 MiB to partition %d: error %d at %d", p, r.ErrorCode, r.BaseOffset)
		}
	}
	before := n.peakRSS()
	var wg sync.WaitGroup
	for p := int32(0); p < parts; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := n.rawClient()
			for range 3 {
				r := listOffset(t, cl, "inflating", p, ts+200)
				if r.ErrorCode != 0 || r.Offset != 200 || r.Timestamp != ts+200 {
					t.Errorf("partition %d, lookup of the record stamped ts+200: error %d, offset %d at %d; want offset 200 at %d",
						p, r.ErrorCode, r.Offset, r.Timestamp, ts+200)
				}
			}
		}()
	}
	wg.Wait()
	after := n.peakRSS()
	t.Logf("peak RSS %d MiB before the lookups, %d MiB after", before>>20, after>>20)
	if grew := after - before; grew > 100<<20 {
		t.Errorf("12 lookups inside 250 MiB batches raised the node's peak memory by %d MiB", grew>>20)
	}
}

// raceBuilt reports whether the node under test was built with the race detector, whose
// shadow memory makes its resident size no measure of the broker's own.
func raceBuilt(t *testing.T) bool {
	info, err := buildinfo.ReadFile(chronikBin)
	if err != nil {
		t.Fatalf("read build info of %s: %v", chronikBin, err)
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// Many producers at once, each on its own connection and partition, send batches of a
// few KiB that inflate to 31 MiB (just under the 32 MiB check bound) to a topic whose
// compression.type makes the broker recompress them. Every produce succeeds, and the
// node's memory does not grow with the number of partitions in flight: each produce kept
// its decompressed records past the decompression slot, through the check, recompression
// and write, so 64 partitions held 1.7 GiB (and more partitions, more).
func TestConcurrentInflatingProducesHoldBoundedMemory(t *testing.T) {
	n := startNode(t, "")
	parts := int32(96)
	race := raceBuilt(t)
	if race {
		// Under the race detector each 31 MiB decompression and recompression runs many
		// times slower: fewer partitions keep the produces within their timeout, and
		// still exercise the slots' concurrency.
		parts = 8
	}
	createTopic(t, n, "inflating", parts, map[string]string{"compression.type": "gzip"})
	b := inflatingBatch(batch.CodecZstd, 31, time.Now().UnixMilli())
	var wg sync.WaitGroup
	for p := int32(0); p < parts; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := n.rawClient()
			for i := range 2 {
				if r := produceRaw(t, cl, "inflating", p, b); r.ErrorCode != 0 || r.BaseOffset != int64(31*i) {
					t.Errorf("partition %d, produce %d: error %d at offset %d, want offset %d", p, i, r.ErrorCode, r.BaseOffset, 31*i)
				}
			}
		}()
	}
	wg.Wait()
	peak := n.peakRSS()
	t.Logf("node peak RSS %d MiB after %d partitions each took 2 batches inflating to 31 MiB", peak>>20, parts)
	if got := fetchRaw(t, n.rawClient(), "inflating", parts-1, 31); got.ErrorCode != 0 || got.HighWatermark != 62 {
		t.Fatalf("fetch the last partition: error %d, high watermark %d; want 62", got.ErrorCode, got.HighWatermark)
	}
	if !race && peak > 1280<<20 {
		t.Errorf("node peak RSS %d MiB: decompressed records held at once should be bounded by the node, not by the partitions in flight", peak>>20)
	}
}

// An idempotent producer's retries of batches the broker rewrote for compression.type are
// answered with the offsets the originals went to, also after compression.type changed
// between the original and the retry (the retry would be recompressed differently), and
// lookups by time find records inside the recompressed batches, as in Kafka.
func TestRetriesOfRecompressedBatchesAcrossACompressionTypeChange(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "rewritten", 2, map[string]string{"compression.type": "zstd"})
	cl := n.rawClient()
	iresp := initProducerID(t, cl)
	ts := time.Now().UnixMilli()
	build := func(seq int32, codec int8) []byte {
		o := batchtest.DefaultOptions(ts + int64(seq)*10)
		o.ProducerID, o.ProducerEpoch, o.BaseSequence, o.Codec = iresp.ProducerID, iresp.ProducerEpoch, seq, codec
		return batchtest.Build(o, batchtest.Values(3, 100))
	}
	batches := [][]byte{build(0, batch.CodecGzip), build(3, batch.CodecNone), build(6, batch.CodecSnappy)}
	for i, b := range batches[:2] {
		if r := produceRaw(t, cl, "rewritten", 0, bytes.Clone(b)); r.ErrorCode != 0 || r.BaseOffset != int64(3*i) {
			t.Fatalf("produce batch %d: error %d at %d", i, r.ErrorCode, r.BaseOffset)
		}
	}
	_, err := n.admin().AlterTopicConfigs(testContext(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "compression.type", Value: strp("lz4")}}, "rewritten")
	if err != nil {
		t.Fatal(err)
	}
	// The change reaches the partitions through the metadata log: wait until partition 1
	// stores a batch in LZ4, then retry on partition 0.
	eventually(t, 10*time.Second, "compression.type lz4 applies", func() bool {
		r := produceRaw(t, cl, "rewritten", 1, batchtest.Build(batchtest.DefaultOptions(ts), batchtest.Values(1, 10)))
		if r.ErrorCode != 0 {
			t.Fatalf("probe produce: error %d", r.ErrorCode)
		}
		f := fetchRaw(t, cl, "rewritten", 1, r.BaseOffset)
		h, err := batch.ParseHeader(f.RecordBatches)
		return err == nil && h.Compression() == batch.CodecLZ4
	})
	for i, b := range batches[:2] {
		if r := produceRaw(t, cl, "rewritten", 0, bytes.Clone(b)); r.ErrorCode != 0 || r.BaseOffset != int64(3*i) {
			t.Fatalf("retry of batch %d: error %d at %d, want offset %d", i, r.ErrorCode, r.BaseOffset, 3*i)
		}
	}
	if r := produceRaw(t, cl, "rewritten", 0, batches[2]); r.ErrorCode != 0 || r.BaseOffset != 6 {
		t.Fatalf("produce batch 2: error %d at %d, want offset 6", r.ErrorCode, r.BaseOffset)
	}
	if end := offsetOf(t, cl, "rewritten", 0, -1); end != 9 {
		t.Fatalf("log end %d after retries, want 9", end)
	}
	stored, err := batch.Split(fetchRaw(t, cl, "rewritten", 0, 0).RecordBatches)
	if err != nil || len(stored) != 3 {
		t.Fatalf("partition 0 holds %d batches (%v), want 3", len(stored), err)
	}
	for i, want := range []int8{batch.CodecZstd, batch.CodecZstd, batch.CodecLZ4} {
		if h, err := batch.ParseHeader(stored[i]); err != nil || h.Compression() != want {
			t.Errorf("stored batch %d: codec %d (%v), want %d", i, h.Compression(), err, want)
		}
	}
	for seq := int64(0); seq < 9; seq++ {
		if got := offsetOf(t, cl, "rewritten", 0, ts+(seq/3)*30+seq%3); got != seq {
			t.Errorf("lookup of record %d's timestamp: offset %d", seq, got)
		}
	}
}

// DeleteRecords into the middle of a batch the broker recompressed moves the log start
// there: the earliest offset and a lookup by a time below it answer the new start, a
// lookup inside what remains finds its record, and an idempotent producer's retry of the
// cut batch is still answered with its original offset (Kafka keeps producer state when
// the log start moves, KIP-360), and DescribeProducers still lists the producer.
func TestDeleteRecordsIntoARecompressedBatch(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "cut", 1, map[string]string{"compression.type": "zstd"})
	cl := n.rawClient()
	iresp := initProducerID(t, cl)
	ts := time.Now().UnixMilli()
	o := batchtest.DefaultOptions(ts)
	o.ProducerID, o.ProducerEpoch, o.BaseSequence, o.Codec = iresp.ProducerID, iresp.ProducerEpoch, 0, batch.CodecGzip
	b := batchtest.Build(o, batchtest.Values(10, 50))
	if r := produceRaw(t, cl, "cut", 0, bytes.Clone(b)); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("produce: error %d at %d", r.ErrorCode, r.BaseOffset)
	}
	if low := deleteRecords(t, n, "cut", 0, 4); low != 4 {
		t.Fatalf("DeleteRecords to 4 answered low watermark %d", low)
	}
	if e := offsetOf(t, cl, "cut", 0, -2); e != 4 {
		t.Errorf("earliest after DeleteRecords: %d, want 4", e)
	}
	if p := listOffset(t, cl, "cut", 0, ts+1); p.ErrorCode != 0 || p.Offset != 4 || p.Timestamp != ts+4 {
		t.Errorf("lookup of a deleted record's time: error %d, offset %d at %d; want 4 at %d", p.ErrorCode, p.Offset, p.Timestamp, ts+4)
	}
	if p := listOffset(t, cl, "cut", 0, ts+7); p.ErrorCode != 0 || p.Offset != 7 || p.Timestamp != ts+7 {
		t.Errorf("lookup inside the rest: error %d, offset %d at %d; want 7 at %d", p.ErrorCode, p.Offset, p.Timestamp, ts+7)
	}
	if r := produceRaw(t, cl, "cut", 0, b); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Errorf("retry of the cut batch: error %d at %d, want offset 0", r.ErrorCode, r.BaseOffset)
	}
	if end := offsetOf(t, cl, "cut", 0, -1); end != 10 {
		t.Errorf("log end %d after the retry, want 10", end)
	}
	described, err := n.admin().DescribeProducers(testContext(t), kadm.TopicsSet{"cut": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	p := described["cut"].Partitions[0]
	if got, ok := p.ActiveProducers[iresp.ProducerID]; p.Err != nil || !ok || got.LastSequence != 9 || got.LastTimestamp != ts+9 {
		t.Errorf("DescribeProducers after DeleteRecords: %v %+v, want producer %d with last sequence 9 at %d", p.Err, p.ActiveProducers, iresp.ProducerID, ts+9)
	}
}

// A compressed batch whose records inflate past the check bound is stored unchecked; when
// what it inflates to is not records at all, the node still serves it and everything
// around it: a lookup by time inside it answers (the batch's first offset), a fetch
// returns it as stored, other partitions take and serve records, and the node restarts
// with it in its log.
func TestUncheckedGarbageBatchHarmsNothing(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "garbage", 2, map[string]string{"cleanup.policy": "compact"})
	ts := time.Now().UnixMilli()
	o := batchtest.DefaultOptions(ts)
	o.Codec = batch.CodecZstd
	b := batchtest.Build(o, []batchtest.Record{{Key: []byte("k"), TimestampDelta: 0}, {Key: []byte("k"), TimestampDelta: 5}})
	junk := bytes.Repeat([]byte{0xff}, 40<<20)
	body, err := batchtest.Compress(batch.CodecZstd, junk)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b[:batch.HeaderSize], body...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], batch.Checksum(b))
	cl := n.rawClient()
	if r := produceRaw(t, cl, "garbage", 0, b); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("produce of a batch inflating past the check bound: error %d at %d, want it stored at 0", r.ErrorCode, r.BaseOffset)
	}
	check := func(when string) {
		t.Helper()
		if p := listOffset(t, cl, "garbage", 0, ts+3); p.ErrorCode != 0 || p.Offset != 0 {
			t.Errorf("%s: lookup inside the garbage batch: error %d, offset %d; want 0", when, p.ErrorCode, p.Offset)
		}
		if f := fetchRaw(t, cl, "garbage", 0, 0); f.ErrorCode != 0 || len(f.RecordBatches) != len(b) || !bytes.Equal(f.RecordBatches[batch.HeaderSize:], b[batch.HeaderSize:]) {
			t.Errorf("%s: fetch of the garbage batch: error %d, %d bytes", when, f.ErrorCode, len(f.RecordBatches))
		}
		good := batchtest.Build(batchtest.DefaultOptions(ts), []batchtest.Record{{Key: []byte("a"), Value: []byte("b")}})
		if r := produceRaw(t, cl, "garbage", 1, good); r.ErrorCode != 0 {
			t.Errorf("%s: produce to the other partition: error %d", when, r.ErrorCode)
		}
	}
	check("stored")
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	n.start()
	cl = n.rawClient()
	check("after a restart")
}

// On a LogAppendTime topic whose compression.type rewrites batches, the rewritten batch
// carries the broker's stamp and LogAppendTime flag in its new codec, its records decode,
// and an idempotent retry is answered with the original offset and stamp.
func TestLogAppendTimeRecompressedBatchAndItsRetry(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "lat-rewritten", 1, map[string]string{"message.timestamp.type": "LogAppendTime", "compression.type": "gzip"})
	cl := n.rawClient()
	iresp := initProducerID(t, cl)
	o := batchtest.DefaultOptions(time.Now().Add(-time.Hour).UnixMilli())
	o.ProducerID, o.ProducerEpoch, o.BaseSequence, o.Codec = iresp.ProducerID, iresp.ProducerEpoch, 0, batch.CodecZstd
	want := batchtest.Values(5, 30)
	b := batchtest.Build(o, want)
	first := produceRaw(t, cl, "lat-rewritten", 0, bytes.Clone(b))
	if first.ErrorCode != 0 || first.BaseOffset != 0 || first.LogAppendTime <= o.FirstTimestamp {
		t.Fatalf("produce: error %d at %d, log append time %d", first.ErrorCode, first.BaseOffset, first.LogAppendTime)
	}
	retry := produceRaw(t, cl, "lat-rewritten", 0, b)
	if retry.ErrorCode != 0 || retry.BaseOffset != 0 || retry.LogAppendTime != first.LogAppendTime {
		t.Fatalf("retry: error %d at %d, log append time %d; want 0 at 0, %d", retry.ErrorCode, retry.BaseOffset, retry.LogAppendTime, first.LogAppendTime)
	}
	stored := fetchRaw(t, cl, "lat-rewritten", 0, 0).RecordBatches
	h, err := batch.Validate(stored)
	if err != nil || h.Compression() != batch.CodecGzip || !h.LogAppendTime() || h.MaxTimestamp != first.LogAppendTime || h.NumRecords != 5 {
		t.Fatalf("stored batch: %v, codec %d, log append time %v, max timestamp %d, %d records", err, h.Compression(), h.LogAppendTime(), h.MaxTimestamp, h.NumRecords)
	}
	got, err := batchtest.DecodeAll(stored)
	if err != nil || len(got) != len(want) {
		t.Fatalf("decode the stored batch: %d records, %v", len(got), err)
	}
	for i := range want {
		if !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("record %d: value %q, want %q", i, got[i].Value, want[i].Value)
		}
	}
	if p := listOffset(t, cl, "lat-rewritten", 0, first.LogAppendTime); p.ErrorCode != 0 || p.Offset != 0 || p.Timestamp != first.LogAppendTime {
		t.Errorf("lookup by the stamp: error %d, offset %d at %d", p.ErrorCode, p.Offset, p.Timestamp)
	}
}
