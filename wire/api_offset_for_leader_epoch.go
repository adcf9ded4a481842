package wire

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
)

// OffsetForLeaderEpoch v0-4: for each partition, the largest leader epoch not above the
// requested one and the offset where it ends (the high watermark for the current epoch).
// Consumers use it after a leader change to detect log truncation. Follower requests
// (replica id >= 0, v3+) wait for replication support.
func (h *Handlers) handleOffsetForLeaderEpoch(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	var slots []*kmsg.OffsetForLeaderEpochResponseTopicPartition
	type target struct {
		tp actors.TopicPartition
		r  *actors.EpochEndRequest
	}
	var targets []target
	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
			if req.Version >= 3 && req.ReplicaID >= 0 {
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				continue
			}
			epoch := int32(-1)
			if req.Version >= 2 {
				epoch = rp.CurrentLeaderEpoch
			}
			targets = append(targets, target{
				tp: actors.TopicPartition{Topic: rt.Topic, Partition: rp.Partition},
				r:  &actors.EpochEndRequest{LeaderEpoch: rp.LeaderEpoch, CurrentLeaderEpoch: epoch, Index: len(slots)},
			})
			slots = append(slots, sp)
		}
	}
	replies := make(chan actors.EpochEndReply, len(slots))
	for _, t := range targets {
		t.r.Reply = replies
		h.cluster.EpochEnd(t.tp, t.r)
	}
	err := collect(ctx, replies, len(slots), 30*time.Second, func(rep actors.EpochEndReply) {
		sp := slots[rep.Index]
		sp.ErrorCode, sp.LeaderEpoch, sp.EndOffset = rep.Code, rep.LeaderEpoch, rep.EndOffset
	})
	return resp, err
}
