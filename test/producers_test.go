package test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeProducers (kadm, the Java Admin, kafka-transactions.sh describe-producers) shows
// each partition's idempotent producers as Kafka does: id, epoch, last sequence and the
// timestamp of the last batch; no coordinator epoch or open transaction. The state is
// the one the broker deduplicates with, so it survives a restart.
func TestDescribeProducersShowsIdempotentProducers(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "described", 2, nil)
	ctx := testContext(t)
	cl := n.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("described"))
	base := time.Now().Truncate(time.Millisecond)
	for i := range 5 {
		r := &kgo.Record{Partition: 0, Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		described, err := n.admin().DescribeProducers(ctx, kadm.TopicsSet{"described": {0: {}, 1: {}}})
		if err != nil {
			t.Fatalf("%s: describe producers: %v", when, err)
		}
		parts := described["described"].Partitions
		p0, p1 := parts[0], parts[1]
		if p0.Err != nil || p1.Err != nil {
			t.Fatalf("%s: partition errors %v, %v", when, p0.Err, p1.Err)
		}
		if len(p1.ActiveProducers) != 0 {
			t.Errorf("%s: partition 1, never written, has producers %+v", when, p1.ActiveProducers)
		}
		got, ok := p0.ActiveProducers[id]
		if !ok || len(p0.ActiveProducers) != 1 {
			t.Fatalf("%s: partition 0 producers %+v, want exactly producer %d", when, p0.ActiveProducers, id)
		}
		want := kadm.DescribedProducer{
			Leader: 1, Topic: "described", Partition: 0, ProducerID: id, ProducerEpoch: epoch,
			LastSequence: 4, LastTimestamp: base.Add(4 * time.Millisecond).UnixMilli(),
			CoordinatorEpoch: -1, CurrentTxnStartOffset: -1,
		}
		if got != want {
			t.Errorf("%s: producer\n got %+v\nwant %+v", when, got, want)
		}
	}
	check("after producing")
	n.restart()
	check("after a restart")

	// Straight to the broker (kadm would refuse an unknown partition itself): a partition
	// the topic does not have, and a topic that does not exist.
	req := kmsg.NewPtrDescribeProducersRequest()
	for _, topic := range []string{"described", "missing"} {
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{7}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, n.rawClient())
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if len(rt.Partitions) != 1 || rt.Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("%s partition 7: %+v, want UNKNOWN_TOPIC_OR_PARTITION", rt.Topic, rt.Partitions)
		}
	}
}
