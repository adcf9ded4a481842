package test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMoreSegmentsThanOpenFiles runs a node whose open-files limit (ulimit -n 256) is far
// below the number of segments its partitions hold, as tiny segments or many partitions
// make it on a machine with the default limit. Sealed segments' files are opened when
// read and closed again beyond a bound, so the node keeps taking writes, serves every
// record from the first, and restarts on the same data. It used to keep a file open per
// segment: rolling the 250th segment failed with "too many open files", every produce
// after it got KAFKA_STORAGE_ERROR, and the node could no longer accept connections.
func TestMoreSegmentsThanOpenFiles(t *testing.T) {
	const (
		limit      = 256
		partitions = 4
		perPart    = 200 // one segment per record: 800 segments in all
	)
	n := newNode(t, "", "")
	n.openFiles = limit
	n.start()
	// A record of 600 bytes fills most of a 1 KiB segment, so each batch (one record:
	// the producer may put only one in a 1 KiB batch) rolls a segment of its own.
	createTopic(t, n, "small-segments", partitions, map[string]string{"segment.bytes": "1024"})

	produce := func(round int) {
		t.Helper()
		cl := n.client(kgo.DefaultProduceTopic("small-segments"), kgo.ProducerBatchMaxBytes(1024), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := range perPart {
			for p := range int32(partitions) {
				v := fmt.Appendf(nil, "round %d partition %d record %d ", round, p, i)
				v = append(v, make([]byte, 600-len(v))...)
				if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: v}).FirstErr(); err != nil {
					t.Fatalf("round %d: produce record %d to partition %d: %v", round, i, p, err)
				}
			}
		}
		cl.Close()
	}
	check := func(rounds int) {
		t.Helper()
		for p := range int32(partitions) {
			recs := readPartition(t, n, "small-segments", p, 0, int64(rounds*perPart))
			checkContiguous(t, fmt.Sprintf("partition %d", p), recs, 0)
			for i, r := range recs {
				want := fmt.Sprintf("round %d partition %d record %d ", i/perPart, p, i%perPart)
				if len(r.Value) != 600 || string(r.Value[:len(want)]) != want {
					t.Fatalf("partition %d offset %d holds %q..., want %q...", p, r.Offset, r.Value[:min(len(r.Value), 40)], want)
				}
			}
		}
		m := n.scrapeMetrics()
		open, bound := m.sum("chronik_sealed_segment_files_open"), m.sum("chronik_sealed_segment_files_open_limit")
		if bound <= 0 || bound >= limit || open > bound {
			t.Fatalf("sealed segment files open %v, bound %v: want a bound below the limit of %d, held", open, bound, limit)
		}
	}

	produce(0)
	segments, err := filepath.Glob(filepath.Join(n.dir, "data", "partitions", "small-segments-*", "*.log"))
	if err != nil || len(segments) < partitions*perPart {
		t.Fatalf("%d segment files (%v), want at least %d: the test needs more segments than open files", len(segments), err, partitions*perPart)
	}
	check(1)
	n.restart() // kill -9: recovery finds 800 segments
	check(1)
	produce(1)
	check(2)
}
