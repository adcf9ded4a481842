package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
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

// Consumers whose fetch limits are smaller than every batch still read everything, in
// order: the first batch of a response comes whole, whatever the limits (KIP-74). kgo with
// 1-byte limits, Sarama with 1-byte fetch sizes at Kafka 0.11 and 3.6 (Fetch v5 and v12),
// and kcat with the smallest limits librdkafka takes (a 1-byte partition limit, 1000
// bytes in all).
func TestTinyFetchLimitsStillProgress(t *testing.T) {
	n := startNode(t, "")
	const topic, perPartition = "tiny-limits", 60
	createTopic(t, n, topic, 2, nil)
	want := map[int32][]*kgo.Record{}
	for p := range int32(2) {
		want[p] = produceValues(t, n, topic, p, fmt.Sprintf("p%d", p), perPartition, 3, time.Now()) // batches of about 300 bytes
	}
	check := func(client string, p int32, i int, offset int64, value []byte) {
		t.Helper()
		if w := want[p][i]; offset != w.Offset || string(value) != string(w.Value) {
			t.Fatalf("%s, partition %d: record %d is %q at %d, want %q at %d", client, p, i, value, offset, w.Value, w.Offset)
		}
	}

	kcl := n.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(1), kgo.FetchMaxPartitionBytes(1), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[int32]int{}
	for seen[0]+seen[1] < 2*perPartition {
		fs := kcl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("kgo with 1-byte limits read %v of %d records per partition in 30s", seen, perPartition)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("kgo fetch %s/%d: %v", topic, p, err) })
		for _, r := range fs.Records() {
			check("kgo", r.Partition, seen[r.Partition], r.Offset, r.Value)
			seen[r.Partition]++
		}
	}

	for _, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.V3_6_0_0} {
		cfg := saramaConfig()
		cfg.Version = v
		cfg.Consumer.Fetch.Min, cfg.Consumer.Fetch.Default, cfg.Consumer.Fetch.Max = 1, 1, 1
		cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
		cfg.Consumer.Return.Errors = true
		consumer, err := sarama.NewConsumer([]string{n.kafkaAddr}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for p := range int32(2) {
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			for i := range perPartition {
				select {
				case m := <-pc.Messages():
					check("Sarama "+v.String(), p, i, m.Offset, m.Value)
				case err := <-pc.Errors():
					t.Fatalf("Sarama %v with 1-byte fetches, partition %d: %v", v, p, err)
				case <-time.After(30 * time.Second):
					t.Fatalf("Sarama %v with 1-byte fetches, partition %d: %d of %d records in 30s", v, p, i, perPartition)
				}
			}
			pc.Close()
		}
		consumer.Close()
	}

	kcat, err := exec.LookPath("kcat")
	if err != nil {
		return
	}
	for p := range int32(2) {
		out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-t", topic, "-p", fmt.Sprint(p), "-C", "-o", "beginning", "-e", "-q", "-f", "%o %s\n",
			"-X", "message.max.bytes=1000", "-X", "fetch.max.bytes=1000", "-X", "max.partition.fetch.bytes=1",
			"-X", "receive.message.max.bytes=1512").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat with tiny fetch limits: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != perPartition {
			t.Fatalf("kcat with tiny fetch limits read %d records of partition %d, want %d", len(lines), p, perPartition)
		}
		for i, line := range lines {
			offset, value, _ := strings.Cut(line, " ")
			check("kcat", p, i, int64(atoi(t, offset)), []byte(value))
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return n
}
