package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// createTopic creates a topic with config overrides and fails the test if that fails.
func createTopic(t *testing.T, n *node, name string, partitions int32, configs map[string]string) {
	t.Helper()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = strp(v)
	}
	r, err := n.admin().CreateTopic(testContext(t), partitions, 1, cfg, name)
	if err != nil || r.Err != nil {
		t.Fatalf("create topic %s: %v %v %s", name, err, r.Err, r.ErrMessage)
	}
}

// rawClient sends hand-made requests straight to the node: no client-side routing or
// splitting, so requests for unknown topics reach the broker too. Versions are pinned to
// ones that name topics by name (Produce v12, Fetch v12), so requests need no topic ids.
func (n *node) rawClient() *kgo.Broker {
	n.t.Helper()
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(0, 12)
	versions.SetMaxKeyVersion(1, 12)
	return n.client(kgo.MaxVersions(versions), kgo.RequestRetries(0)).SeedBrokers()[0]
}

// produceRaw sends one partition's record batches in a ProduceRequest (acks=all) and
// returns that partition's answer.
func produceRaw(t *testing.T, cl kmsg.Requestor, topic string, partition int32, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("produce request: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response for one partition has %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// fetchRaw fetches one partition from offset without waiting and returns its answer.
func fetchRaw(t *testing.T, cl kmsg.Requestor, topic string, partition int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 0, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = partition, offset, 1<<20, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("fetch request: %v", err)
	}
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response for one partition: error %d, %+v", resp.ErrorCode, resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// listOffset resolves a ListOffsets timestamp (-1 latest, -2 earliest, -3 max timestamp,
// or a time in milliseconds) for one partition at the newest version both sides speak.
func listOffset(t *testing.T, cl kmsg.Requestor, topic string, partition int32, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	return listOffsetAtEpoch(t, cl, topic, partition, ts, -1)
}

// listOffsetAtEpoch is listOffset naming the leader epoch the client knows (-1: none).
func listOffsetAtEpoch(t *testing.T, cl kmsg.Requestor, topic string, partition int32, ts int64, current int32) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = partition, ts, current
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("list offsets response for one partition: %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// offsetOf is listOffset's offset, failing the test on an error code.
func offsetOf(t *testing.T, cl kmsg.Requestor, topic string, partition int32, ts int64) int64 {
	t.Helper()
	p := listOffset(t, cl, topic, partition, ts)
	if p.ErrorCode != 0 {
		t.Fatalf("list offsets %s/%d at %d: error %d", topic, partition, ts, p.ErrorCode)
	}
	return p.Offset
}

// readPartition consumes one partition from offset from until it has read every record
// below to, and fails the test if it sees an error or a record at or past to.
func readPartition(t *testing.T, n *node, topic string, partition int32, from, to int64) []*kgo.Record {
	t.Helper()
	if from >= to {
		return nil
	}
	cl := n.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().At(from)},
	}))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < to-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s/%d: read %d records from %d before the deadline, want up to offset %d", topic, partition, len(out), from, to)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	if last := out[len(out)-1].Offset; last >= to {
		t.Fatalf("%s/%d: read offset %d, want nothing at or past %d", topic, partition, last, to)
	}
	return out
}

// checkContiguous fails unless recs hold offsets from, from+1, ... in order.
func checkContiguous(t *testing.T, what string, recs []*kgo.Record, from int64) {
	t.Helper()
	for i, r := range recs {
		if r.Offset != from+int64(i) {
			t.Fatalf("%s: record %d has offset %d, want %d", what, i, r.Offset, from+int64(i))
		}
	}
}

// sameRecord reports how got differs from want in key, value or headers ("" if not).
func sameRecord(got, want *kgo.Record) string {
	if string(got.Key) != string(want.Key) || string(got.Value) != string(want.Value) {
		return fmt.Sprintf("key/value %q/%q, want %q/%q", got.Key, got.Value, want.Key, want.Value)
	}
	if len(got.Headers) != len(want.Headers) {
		return fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i, h := range want.Headers {
		if got.Headers[i].Key != h.Key || string(got.Headers[i].Value) != string(h.Value) {
			return fmt.Sprintf("header %d is %s=%q, want %s=%q", i, got.Headers[i].Key, got.Headers[i].Value, h.Key, h.Value)
		}
	}
	return ""
}

// initProducerID allocates an idempotent producer id through InitProducerId, for raw
// idempotent produces, and fails the test if that fails.
func initProducerID(t *testing.T, cl kmsg.Requestor) *kmsg.InitProducerIDResponse {
	t.Helper()
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60000
	iresp, err := init.RequestWith(testContext(t), cl)
	if err != nil || iresp.ErrorCode != 0 || iresp.ProducerID < 0 {
		t.Fatalf("InitProducerId: %v %+v", err, iresp)
	}
	return iresp
}

// idempotentBatch builds a batch of count 10-byte values from the producer p, its first
// record at sequence seq, for raw idempotent produces.
func idempotentBatch(p *kmsg.InitProducerIDResponse, seq int32, count int) []byte {
	o := batchtest.DefaultOptions(time.Now().UnixMilli())
	o.ProducerID, o.ProducerEpoch, o.BaseSequence = p.ProducerID, p.ProducerEpoch, seq
	return batchtest.Build(o, batchtest.Values(count, 10))
}

// saramaPartition consumes one partition with Sarama from its oldest record; consumer
// and partition consumer close at test end.
func saramaPartition(t *testing.T, n *node, cfg *sarama.Config, topic string, partition int32) sarama.PartitionConsumer {
	t.Helper()
	consumer, err := sarama.NewConsumer([]string{n.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { consumer.Close() })
	pc, err := consumer.ConsumePartition(topic, partition, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}
