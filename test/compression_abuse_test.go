package test

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
