package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// A consumer whose fetch.min.bytes is above its fetch.max.bytes is answered as soon as a
// full response's worth is there: Kafka caps MinBytes at MaxBytes (KafkaApis: fetchMinBytes
// = min(minBytes, fetchMaxBytes)), since no response could ever carry more, and a read of
// a partition holding more than the limit fills it (with a partial last batch). The broker
// waited for MinBytes that a response of MaxBytes never carries, and then for whole
// batches that fall short of MaxBytes, so every fetch of a backlogged partition sat out
// its whole MaxWaitMillis (two minutes here). Only the tail, less than MaxBytes, is left
// to wait, as in Kafka.
func TestFetchMinBytesAboveMaxBytes(t *testing.T) {
	n := startNode(t, "")
	const topic, total = "min-over-max", 40
	createTopic(t, n, topic, 1, nil)
	sent := produceValues(t, n, topic, 0, "r", total, 2, time.Now()) // 20 batches of ~190 bytes
	cl := n.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxBytes(1000), kgo.FetchMaxPartitionBytes(1000), kgo.FetchMinBytes(1<<20), kgo.FetchMaxWait(2*time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < total/2 { // 1900 bytes and more are still there for each of these fetches
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records in 30s: fetches limited to 1000 bytes waited for 1 MiB", len(got), total/2)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got = append(got, fs.Records()...)
	}
	checkContiguous(t, topic, got, 0)
	for i, r := range got {
		if diff := sameRecord(r, sent[i]); diff != "" {
			t.Fatalf("offset %d: %s", r.Offset, diff)
		}
	}
}

// A Fetch with MaxBytes 0 gets the first batch of the first partition with records and
// nothing more, as from Kafka, where that limit leaves only KIP-74's one batch for
// progress; and its MinBytes, capped at 0, never holds it back. The broker read 0 as "no
// limit" and answered with up to 55 MiB.
func TestFetchMaxBytesZero(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "max-zero", 2, nil)
	cl := n.rawClient()
	var first []byte
	for i := range 3 {
		b := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), sameTimestamp(4, fmt.Sprintf("batch-%d", i)))
		if i == 0 {
			first = b
		}
		if p := produceRaw(t, cl, "max-zero", 1, b); p.ErrorCode != 0 {
			t.Fatalf("produce batch %d: error %d", i, p.ErrorCode)
		}
	}
	req := kmsg.NewPtrFetchRequest()
	// MaxWaitMillis beyond the request's deadline: only an answer that does not wait passes.
	req.ReplicaID, req.MinBytes, req.MaxBytes, req.MaxWaitMillis = -1, 1<<20, 0, int32((10 * time.Minute).Milliseconds())
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "max-zero"
	for p := range int32(2) { // partition 0 is empty: the first batch is partition 1's
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch with MaxBytes 0 and MinBytes 1 MiB: %v", err)
	}
	ps := resp.Topics[0].Partitions
	if ps[0].ErrorCode != 0 || len(ps[0].RecordBatches) != 0 || ps[1].ErrorCode != 0 || ps[1].HighWatermark != 12 {
		t.Fatalf("fetch answered %+v", ps)
	}
	got := ps[1].RecordBatches
	if h, err := batch.ParseHeader(got); err != nil || len(got) != len(first) || h.BaseOffset != 0 || h.LastOffset() != 3 {
		t.Fatalf("fetch with MaxBytes 0 carried %d bytes (%v), want the first batch alone: offsets 0-3 in %d bytes", len(got), err, len(first))
	}

	// kafka-go's Client.Fetch sends MaxBytes and PartitionMaxBytes 0 when its caller sets
	// no MaxBytes: one batch comes back.
	kg := &kafka.Client{Addr: kafka.TCP(n.kafkaAddr), Transport: kafkaGoTransport(t)}
	fetched, err := kg.Fetch(ctx, &kafka.FetchRequest{Topic: "max-zero", Partition: 1, MaxWait: time.Second})
	if err != nil || fetched.Error != nil {
		t.Fatalf("kafka-go Client.Fetch without MaxBytes: %v %v", err, fetched)
	}
	var offsets []int64
	for {
		rec, err := fetched.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("kafka-go Client.Fetch without MaxBytes: record %d: %v", len(offsets), err)
		}
		offsets = append(offsets, rec.Offset)
	}
	if !slices.Equal(offsets, []int64{0, 1, 2, 3}) {
		t.Fatalf("kafka-go Client.Fetch without MaxBytes read offsets %v, want the first batch's 0-3", offsets)
	}
}
