package test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// Conformance with the Java broker's answers, where a client would notice a difference.

// Kafka 4 refuses CreateTime batches stamped more than message.timestamp.after.max.ms
// (one hour by default) ahead of its clock, or more than before.max.ms (unlimited by
// default) behind it, with INVALID_TIMESTAMP; LogAppendTime topics restamp and accept.
func TestProduceTimestampBounds(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "ts-default", 1, nil)
	createTopic(t, n, "ts-narrow", 1, map[string]string{"message.timestamp.before.max.ms": "60000", "message.timestamp.after.max.ms": "86400000"})
	createTopic(t, n, "ts-append", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	cl := n.rawClient()
	now := time.Now()
	at := func(d time.Duration) []byte {
		return batchtest.Build(batchtest.DefaultOptions(now.Add(d).UnixMilli()), sameTimestamp(2, "r"))
	}
	for _, c := range []struct {
		topic string
		shift time.Duration
		want  int16
	}{
		{"ts-default", 2 * time.Hour, kerr.InvalidTimestamp.Code},
		{"ts-default", 30 * time.Minute, 0},
		{"ts-default", -365 * 24 * time.Hour, 0},
		{"ts-narrow", 2 * time.Hour, 0},
		{"ts-narrow", -2 * time.Hour, kerr.InvalidTimestamp.Code},
		{"ts-narrow", 48 * time.Hour, kerr.InvalidTimestamp.Code},
		{"ts-append", 48 * time.Hour, 0},
	} {
		p := produceRaw(t, cl, c.topic, 0, at(c.shift))
		if p.ErrorCode != c.want {
			t.Errorf("%s, stamped %v from now: error %d, want %d", c.topic, c.shift, p.ErrorCode, c.want)
		}
		if c.want != 0 && (p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "out of range") || p.BaseOffset != -1) {
			t.Errorf("%s, stamped %v from now: message %v, base offset %d", c.topic, c.shift, p.ErrorMessage, p.BaseOffset)
		}
	}
	// Refused batches took no offsets: two accepted batches of two records each.
	if l := offsetOf(t, cl, "ts-default", 0, -1); l != 4 {
		t.Fatalf("ts-default holds %d records, want 4", l)
	}

	// A producer whose clock runs two hours ahead gets the error for its record.
	prod := n.client(kgo.DefaultProduceTopic("ts-default"))
	err := prod.ProduceSync(testContext(t), &kgo.Record{Value: []byte("v"), Timestamp: now.Add(2 * time.Hour)}).FirstErr()
	if !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("kgo produce stamped two hours ahead: %v", err)
	}
}
