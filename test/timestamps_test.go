package test

import (
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFutureTimestampsRefused: as in Kafka 3.6+ (KIP-937), a CreateTime record stamped
// more than message.timestamp.after.max.ms (1 h by default) ahead of the broker's clock
// gets INVALID_TIMESTAMP; it used to be stored, and its segment, with every later one,
// then outlived retention.ms. The bound is a topic config, and LogAppendTime topics do
// not care what the producer wrote.
func TestFutureTimestampsRefused(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "clock", 1, nil)
	createTopic(t, n, "appended", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	ctx := testContext(t)
	prod := n.client(kgo.RecordRetries(0))

	future := time.Now().Add(2 * time.Hour)
	err := prod.ProduceSync(ctx, &kgo.Record{Topic: "clock", Value: []byte("too new"), Timestamp: future}).FirstErr()
	if !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("produce 2 h ahead: %v, want INVALID_TIMESTAMP", err)
	}
	soon := time.Now().Add(30 * time.Minute)
	produceAll(t, prod, []*kgo.Record{{Topic: "clock", Value: []byte("soon"), Timestamp: soon}})

	// Raising the topic's bound lets the same record in.
	adm := n.admin()
	r, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "message.timestamp.after.max.ms", Value: strp("86400000")}}, "clock")
	if err != nil || r[0].Err != nil {
		t.Fatalf("alter message.timestamp.after.max.ms: %v %+v", err, r)
	}
	eventually(t, 10*time.Second, "the raised bound to take effect", func() bool {
		return prod.ProduceSync(ctx, &kgo.Record{Topic: "clock", Value: []byte("accepted"), Timestamp: future}).FirstErr() == nil
	})
	got := consumeN(t, n, "clock", 2)
	if string(got[0].Value) != "soon" || string(got[1].Value) != "accepted" || got[1].Timestamp.UnixMilli() != future.UnixMilli() {
		t.Fatalf("read back %q at %v, %q at %v", got[0].Value, got[0].Timestamp, got[1].Value, got[1].Timestamp)
	}

	// LogAppendTime: the producer's timestamp is replaced by the broker's, which Sarama
	// learns from the produce response, and consumers and ListOffsets see.
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_0_0_0
	cfg.Producer.Return.Successes = true
	sp, err := sarama.NewSyncProducer([]string{n.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	before := time.Now().Add(-time.Second)
	msg := &sarama.ProducerMessage{Topic: "appended", Value: sarama.StringEncoder("stamped"), Timestamp: future}
	if _, _, err := sp.SendMessage(msg); err != nil {
		t.Fatalf("sarama produce to a LogAppendTime topic: %v", err)
	}
	after := time.Now().Add(time.Second)
	if msg.Timestamp.Before(before) || msg.Timestamp.After(after) {
		t.Fatalf("produce response's log append time %v, want the broker's time", msg.Timestamp)
	}
	rec := consumeN(t, n, "appended", 1)[0]
	if !rec.Timestamp.Equal(msg.Timestamp) || rec.Attrs.TimestampType() != 1 {
		t.Fatalf("consumed timestamp %v (type %d), want %v (LogAppendTime)", rec.Timestamp, rec.Attrs.TimestampType(), msg.Timestamp)
	}
	if p := listOffset(t, prod, "appended", 0, -3); p.Timestamp != msg.Timestamp.UnixMilli() || p.Offset != 0 {
		t.Fatalf("ListOffsets max timestamp: offset %d at %d, want 0 at %d", p.Offset, p.Timestamp, msg.Timestamp.UnixMilli())
	}
}
