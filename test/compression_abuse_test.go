package test

import (
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
