package test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
