package actors

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

func TestParkedFetchesWakeOnDataAndExpire(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "memory", 1000)
	defer n.stop(t)
	if r := createTopic(t, n.Node, "w", 1); !r.OK() {
		t.Fatal(r.Message)
	}
	tp := TopicPartition{Topic: "w", Partition: 0}

	// A long poll that expires unanswered must not stay parked.
	for i := 0; i < 50; i++ {
		n.Watch(tp, &WatchRequest{Offset: 0, Deadline: time.Now().Add(20 * time.Millisecond), Notify: make(chan struct{}, 1)})
	}
	if !eventually(5*time.Second, func() bool { info, ok := n.PartitionInfo(tp); return ok && info.ParkedFetches > 0 }) {
		t.Fatal("watches were not parked")
	}
	if !eventually(5*time.Second, func() bool { info, _ := n.PartitionInfo(tp); return info.ParkedFetches == 0 }) {
		info, _ := n.PartitionInfo(tp)
		t.Fatalf("%d expired fetches still parked", info.ParkedFetches)
	}

	// A parked fetch wakes when data arrives.
	wake := make(chan struct{}, 1)
	n.Watch(tp, &WatchRequest{Offset: 0, Deadline: time.Now().Add(time.Minute), Notify: wake})
	reply := make(chan ProduceReply, 1)
	opts := batchtest.DefaultOptions(time.Now().UnixMilli())
	n.Produce(tp, &ProduceRequest{Records: batchtest.Build(opts, batchtest.Values(3, 10)), Acks: 1, Reply: reply})
	if r := <-reply; r.Code != 0 || r.BaseOffset != 0 {
		t.Fatalf("produce: %+v", r)
	}
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("parked fetch not woken by new data")
	}

	// Unknown partitions answer at once.
	fr := make(chan FetchReply, 1)
	n.Fetch(TopicPartition{Topic: "w", Partition: 9}, &FetchRequest{Reply: fr})
	if r := <-fr; r.Code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("fetch of a missing partition: code %d", r.Code)
	}
}
