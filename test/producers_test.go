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

// An idempotent producer's sequence state outlives the records it describes, as in Kafka
// (whose producer state is kept when the log start moves, until producer.id.expiration.ms):
// after DeleteRecords has removed a producer's last batch, a retry of that batch is still
// answered as a duplicate with its original offset instead of being written again, a
// sequence gap is still OUT_OF_ORDER_SEQUENCE, and DescribeProducers still shows the last
// sequence. The broker forgot the batches below the new log start and took the retry as
// new records, a duplicate in the log.
func TestProducerSequencesOutliveDeleteRecords(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "purged", 1, nil)
	cl := n.rawClient()
	iresp := initProducerID(t, cl)
	idempotent := func(seq int32, count int) []byte { return idempotentBatch(iresp, seq, count) }
	last := idempotent(0, 5)
	if p := produceRaw(t, cl, "purged", 0, last); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("first batch: error %d at offset %d", p.ErrorCode, p.BaseOffset)
	}
	if lw := deleteRecords(t, n, "purged", 0, -1); lw != 5 {
		t.Fatalf("low watermark %d after deleting every record, want 5", lw)
	}

	if p := produceRaw(t, cl, "purged", 0, last); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("retry of the deleted last batch: error %d at offset %d, want a duplicate answered with offset 0", p.ErrorCode, p.BaseOffset)
	}
	if end := offsetOf(t, cl, "purged", 0, -1); end != 5 {
		t.Fatalf("log end %d after the retry, want 5: the retry was written again", end)
	}
	if p := produceRaw(t, cl, "purged", 0, idempotent(7, 1)); p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence 7 after last sequence 4: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", p.ErrorCode)
	}
	described, err := n.admin().DescribeProducers(testContext(t), kadm.TopicsSet{"purged": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := described["purged"].Partitions[0].ActiveProducers[iresp.ProducerID]; got.LastSequence != 4 {
		t.Fatalf("described producer %+v, want last sequence 4", got)
	}
	if p := produceRaw(t, cl, "purged", 0, idempotent(5, 1)); p.ErrorCode != 0 || p.BaseOffset != 5 {
		t.Fatalf("next sequence: error %d at offset %d, want offset 5", p.ErrorCode, p.BaseOffset)
	}
}

// The same holds across a restart, as in Kafka, whose producer snapshot keeps the state
// of batches below the log start: DeleteRecords removes a producer's older batch, the
// node restarts, and a retry of that batch is still answered as a duplicate with its
// original offset. The node dropped the batch at the restart and answered
// OUT_OF_ORDER_SEQUENCE_NUMBER, an error for a batch that was written.
func TestProducerSequencesOutliveDeleteRecordsAcrossARestart(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "purged-restart", 1, nil)
	cl := n.rawClient()
	iresp := initProducerID(t, cl)
	idempotent := func(seq int32, count int) []byte { return idempotentBatch(iresp, seq, count) }
	older, newer := idempotent(0, 5), idempotent(5, 5)
	for i, b := range [][]byte{older, newer} {
		if p := produceRaw(t, cl, "purged-restart", 0, b); p.ErrorCode != 0 || p.BaseOffset != int64(5*i) {
			t.Fatalf("batch %d: error %d at offset %d", i, p.ErrorCode, p.BaseOffset)
		}
	}
	if lw := deleteRecords(t, n, "purged-restart", 0, 7); lw != 7 {
		t.Fatalf("low watermark %d, want 7", lw)
	}
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	n.start()
	cl = n.rawClient()

	if p := produceRaw(t, cl, "purged-restart", 0, older); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("retry of the deleted batch after the restart: error %d at offset %d, want a duplicate answered with offset 0", p.ErrorCode, p.BaseOffset)
	}
	if end := offsetOf(t, cl, "purged-restart", 0, -1); end != 10 {
		t.Fatalf("log end %d after the retry, want 10: the retry was written again", end)
	}
	if p := produceRaw(t, cl, "purged-restart", 0, idempotent(10, 1)); p.ErrorCode != 0 || p.BaseOffset != 10 {
		t.Fatalf("next sequence: error %d at offset %d, want offset 10", p.ErrorCode, p.BaseOffset)
	}
}
