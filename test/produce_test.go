package test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceAll produces records synchronously and fails the test on any error.
func produceAll(t *testing.T, cl *kgo.Client, recs []*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeN reads n records from the topic's start with a fresh consumer (no group).
func consumeN(t *testing.T, n *node, topic string, want int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := n.client(append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(out), want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	n := startNode(t, "")
	if _, err := n.admin().CreateTopic(testContext(t), 3, 1, nil, "rt"); err != nil {
		t.Fatal(err)
	}
	prod := n.client(kgo.DefaultProduceTopic("rt"))
	var recs []*kgo.Record
	for i := 0; i < 300; i++ {
		recs = append(recs, &kgo.Record{
			Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{byte(i)}}},
		})
	}
	produceAll(t, prod, recs)
	got := consumeN(t, n, "rt", len(recs))
	if len(got) != len(recs) {
		t.Fatalf("consumed %d records, produced %d", len(got), len(recs))
	}
	byValue := map[string]*kgo.Record{}
	for _, r := range got {
		byValue[string(r.Value)] = r
	}
	for _, r := range recs {
		g := byValue[string(r.Value)]
		if g == nil || !bytes.Equal(g.Key, r.Key) || len(g.Headers) != 1 || g.Headers[0].Value[0] != r.Headers[0].Value[0] {
			t.Fatalf("record %s came back as %+v", r.Value, g)
		}
	}
}
