package actors

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

func epochEnd(t *testing.T, n *Node, tp TopicPartition, epoch, current int32) EpochEndReply {
	t.Helper()
	reply := make(chan EpochEndReply, 1)
	n.EpochEnd(tp, &EpochEndRequest{LeaderEpoch: epoch, CurrentLeaderEpoch: current, Reply: reply})
	select {
	case r := <-reply:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no epoch end reply")
		return EpochEndReply{}
	}
}

// OffsetForLeaderEpoch answers as Kafka's leader-epoch cache would, which holds the
// current epoch from the moment the leader takes over: an epoch with no batches yet ends
// at the log end, not (-1, -1), which consumers validating their position take for a
// truncated log.
func TestEpochEndBeforeAndAfterAppends(t *testing.T) {
	n, tp := startWithTopic(t, "e")
	defer n.stop(t)
	type want struct {
		code  int16
		epoch int32
		end   int64
	}
	check := func(stage string, cases map[[2]int32]want) {
		t.Helper()
		for q, w := range cases {
			r := epochEnd(t, n.Node, tp, q[0], q[1])
			if (want{r.Code, r.LeaderEpoch, r.EndOffset}) != w {
				t.Errorf("%s: epoch %d (current %d): got code %d epoch %d end %d, want %+v", stage, q[0], q[1], r.Code, r.LeaderEpoch, r.EndOffset, w)
			}
		}
	}
	check("empty partition, epoch 0", map[[2]int32]want{
		{0, -1}: {0, 0, 0},
		{0, 0}:  {0, 0, 0},
		{1, -1}: {0, -1, -1}, // newer than any epoch: undefined, no error
		{0, 1}:  {kerr.UnknownLeaderEpoch.Code, -1, -1},
	})

	opts := batchtest.DefaultOptions(time.Now().UnixMilli())
	if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(5, 10))); r.Code != 0 {
		t.Fatalf("produce: %+v", r)
	}
	check("5 records in epoch 0", map[[2]int32]want{
		{0, -1}: {0, 0, 5},
		{1, -1}: {0, -1, -1},
	})

	// A new leader epoch with nothing appended in it yet.
	res, err := n.Propose(context.Background(), fsm.Command{SetPartitionLeader: &fsm.SetPartitionLeader{Topic: "e", Partition: 0, Leader: 1, LeaderEpoch: 2}})
	if err != nil || !res[0].OK() {
		t.Fatalf("bump the leader epoch: %v %+v", err, res)
	}
	if !eventually(5*time.Second, func() bool { return epochEnd(t, n.Node, tp, 2, 2).Code == 0 }) {
		t.Fatal("the partition did not take leader epoch 2")
	}
	check("epoch 2, nothing appended in it", map[[2]int32]want{
		{2, 2}:  {0, 2, 5},
		{1, 2}:  {0, 0, 5}, // never led: the newest known epoch below, ending where 2 starts
		{0, 2}:  {0, 0, 5},
		{3, 2}:  {0, -1, -1},
		{0, 1}:  {kerr.FencedLeaderEpoch.Code, -1, -1},
		{2, -1}: {0, 2, 5},
	})
}

// ListOffsets names the epoch that wrote the offset it answers with, as Kafka does: the
// found batch's epoch for a lookup by time or max timestamp, the log start's for the
// earliest offset, the current one for the latest.
func TestListOffsetsNamesTheEpochOfTheOffset(t *testing.T) {
	n, tp := startWithTopic(t, "le")
	defer n.stop(t)
	listOffsets := func(ts int64) ListOffsetsReply {
		reply := make(chan ListOffsetsReply, 1)
		n.ListOffsets(tp, &ListOffsetsRequest{Timestamp: ts, CurrentLeaderEpoch: -1, Reply: reply})
		return <-reply
	}
	if r := listOffsets(-2); r.LeaderEpoch != 0 {
		t.Errorf("earliest of an empty partition: epoch %d, want the current 0", r.LeaderEpoch)
	}
	opts := batchtest.DefaultOptions(1000)
	if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(5, 10))); r.Code != 0 {
		t.Fatalf("produce in epoch 0: %+v", r)
	}
	res, err := n.Propose(context.Background(), fsm.Command{SetPartitionLeader: &fsm.SetPartitionLeader{Topic: "le", Partition: 0, Leader: 1, LeaderEpoch: 3}})
	if err != nil || !res[0].OK() {
		t.Fatalf("bump the leader epoch: %v %+v", err, res)
	}
	if !eventually(5*time.Second, func() bool { return listOffsets(-1).LeaderEpoch == 3 }) {
		t.Fatal("the partition did not take leader epoch 3")
	}
	opts.FirstTimestamp = 2000
	if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(5, 10))); r.Code != 0 {
		t.Fatalf("produce in epoch 3: %+v", r)
	}
	for _, c := range []struct {
		what      string
		ts        int64
		offset    int64
		wantEpoch int32
	}{
		{"earliest", -2, 0, 0},
		{"latest", -1, 10, 3},
		{"by time, a record of epoch 0", 1002, 2, 0},
		{"by time, a record of epoch 3", 2001, 6, 3},
		{"max timestamp", -3, 9, 3},
	} {
		if r := listOffsets(c.ts); r.Code != 0 || r.Offset != c.offset || r.LeaderEpoch != c.wantEpoch {
			t.Errorf("%s: offset %d epoch %d (code %d), want offset %d epoch %d", c.what, r.Offset, r.LeaderEpoch, r.Code, c.offset, c.wantEpoch)
		}
	}
}
