package test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik/chronik-node/wal/batch"
)

// codecRecords is how many records each codec's topic gets: many batches per partition,
// small enough (short values) to keep the suite quick.
const codecRecords = 100_000

// TestIdempotentProduceEveryCodec produces 100,000 keyed records with headers over 8
// partitions per codec with kgo's idempotent producer, then consumes them back: every
// record comes back exactly once, at the offset it was acknowledged at, in production
// order within its partition, with its key, value and headers intact.
func TestIdempotentProduceEveryCodec(t *testing.T) {
	n := startNode(t, "")
	codecs := []struct {
		name   string
		codec  kgo.CompressionCodec
		stored int8 // the codec id the batches must carry in the log
	}{
		{"none", kgo.NoCompression(), batch.CodecNone},
		{"gzip", kgo.GzipCompression(), batch.CodecGzip},
		{"snappy", kgo.SnappyCompression(), batch.CodecSnappy},
		{"lz4", kgo.Lz4Compression(), batch.CodecLZ4},
		{"zstd", kgo.ZstdCompression(), batch.CodecZstd},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "codec-" + c.name
			createTopic(t, n, topic, 8, nil)
			prod := n.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(c.codec),
				kgo.ProducerLinger(5*time.Millisecond))
			recs := make([]*kgo.Record, codecRecords)
			for i := range recs {
				recs[i] = &kgo.Record{
					Key:   fmt.Appendf(nil, "key-%d", i%997),
					Value: fmt.Appendf(nil, "%s-value-%d", c.name, i),
					Headers: []kgo.RecordHeader{
						{Key: "seq", Value: fmt.Appendf(nil, "%d", i)},
						{Key: "codec", Value: []byte(c.name)},
					},
				}
			}
			produceAsync(t, prod, recs)

			// Acknowledged offsets: per partition 0..n-1, in production order.
			byPartition := map[int32][]*kgo.Record{}
			for _, r := range recs {
				byPartition[r.Partition] = append(byPartition[r.Partition], r)
			}
			if len(byPartition) != 8 {
				t.Fatalf("keys spread over %d partitions, want 8", len(byPartition))
			}
			for p, rs := range byPartition {
				checkContiguous(t, fmt.Sprintf("acknowledged offsets of partition %d", p), rs, 0)
			}

			checkStoredCodec(t, n, topic, c.stored)

			got := consumeN(t, n, topic, codecRecords)
			if len(got) != codecRecords {
				t.Fatalf("consumed %d records, produced %d", len(got), codecRecords)
			}
			gotByPartition := map[int32][]*kgo.Record{}
			for _, r := range got {
				gotByPartition[r.Partition] = append(gotByPartition[r.Partition], r)
			}
			for p, want := range byPartition {
				have := gotByPartition[p]
				if len(have) != len(want) {
					t.Fatalf("partition %d: consumed %d records, produced %d", p, len(have), len(want))
				}
				for i := range want {
					if have[i].Offset != want[i].Offset {
						t.Fatalf("partition %d: record %d at offset %d, acknowledged at %d", p, i, have[i].Offset, want[i].Offset)
					}
					if diff := sameRecord(have[i], want[i]); diff != "" {
						t.Fatalf("partition %d offset %d: %s", p, want[i].Offset, diff)
					}
				}
			}
		})
	}
}

// produceAsync produces every record without waiting for each, then waits for all; any
// failure fails the test. Each record's Partition and Offset are set when it returns.
func produceAsync(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	wg.Add(len(recs))
	for _, r := range recs {
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("record %q: %w", r.Value, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
}

// partitionsOf groups records by partition, each group sorted by offset.
func partitionsOf(recs []*kgo.Record) map[int32][]*kgo.Record {
	out := map[int32][]*kgo.Record{}
	for _, r := range recs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b *kgo.Record) int { return cmp.Compare(a.Offset, b.Offset) })
	}
	return out
}

// checkStoredCodec fetches the start of partition 0 raw and checks the broker stored the
// producer's batches as they were sent: batched, and compressed with the codec.
func checkStoredCodec(t *testing.T, n *node, topic string, codec int8) {
	t.Helper()
	p := fetchRaw(t, n.rawClient(), topic, 0, 0)
	if p.ErrorCode != 0 {
		t.Fatalf("fetch %s/0: error %d", topic, p.ErrorCode)
	}
	batches, err := batch.Split(p.RecordBatches)
	if err != nil || len(batches) == 0 {
		t.Fatalf("fetched batches of %s/0: %d, %v", topic, len(batches), err)
	}
	records, compressed := 0, 0
	for _, b := range batches {
		h, err := batch.Validate(b)
		if err != nil {
			t.Fatalf("fetched batch of %s/0 is invalid: %v", topic, err)
		}
		// kgo sends a batch uncompressed when compressing would not shrink it (a batch of
		// one small record, say); any other codec means the broker rewrote the batch.
		switch h.Compression() {
		case codec:
			compressed++
		case batch.CodecNone:
		default:
			t.Fatalf("batch at %d of %s/0 stored with codec %d, produced with %d", h.BaseOffset, topic, h.Compression(), codec)
		}
		records += int(h.NumRecords)
	}
	if compressed == 0 || records <= len(batches) {
		t.Fatalf("%s/0: %d records in %d batches, %d with codec %d; the producer should have batched and compressed",
			topic, records, len(batches), compressed, codec)
	}
}

// TestPipelinedProducesKeepTheirOrder: a producer with several produce requests in
// flight on one connection (no idempotence, so nothing but the broker keeps the order)
// finds its records in each partition in the order it sent them, as with Kafka, which
// handles a connection's requests one after another.
func TestPipelinedProducesKeepTheirOrder(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "pipelined", 2, nil)
	prod := n.client(kgo.DefaultProduceTopic("pipelined"), kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.MaxProduceRequestsInflightPerBroker(5),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(2048),
		kgo.MaxBufferedRecords(1000))
	const count = 20_000
	recs := make([]*kgo.Record, count)
	for i := range recs {
		recs[i] = &kgo.Record{Partition: int32(i % 2), Value: fmt.Appendf(nil, "%06d", i)}
	}
	produceAsync(t, prod, recs)
	for p, rs := range partitionsOf(recs) {
		checkContiguous(t, fmt.Sprintf("offsets of partition %d", p), rs, 0)
		for i := 1; i < len(rs); i++ {
			if string(rs[i-1].Value) > string(rs[i].Value) {
				t.Fatalf("partition %d: record %s (sent later) at offset %d, before record %s at %d",
					p, rs[i-1].Value, rs[i-1].Offset, rs[i].Value, rs[i].Offset)
			}
		}
	}
}
