package wire

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
)

// ListOffsets v0-10: -1 latest (the high watermark), -2 earliest (the log start), -3 the
// batch with the largest timestamp (v7+), -4 earliest local (v8+, the log start: nothing
// is tiered), -5 latest tiered (v9+, none), or the first offset at or after a timestamp.
// v0 answers in the old form: a list with one offset.
func (h *Handlers) handleListOffsets(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	total := 0
	for _, t := range req.Topics {
		total += len(t.Partitions)
	}
	replies := make(chan actors.ListOffsetsReply, total)
	var slots []*kmsg.ListOffsetsResponseTopicPartition
	// A partition named twice gets INVALID_REQUEST in every place it appears, as in Kafka.
	seen := make(map[actors.TopicPartition]int, total)
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			seen[actors.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}]++
		}
	}
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition, sp.Offset, sp.Timestamp, sp.LeaderEpoch = rp.Partition, -1, -1, -1
			tp := actors.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			if seen[tp] > 1 {
				sp.ErrorCode = kerr.InvalidRequest.Code
				continue
			}
			if !timestampSupported(req.Version, rp.Timestamp) {
				sp.ErrorCode = kerr.UnsupportedVersion.Code
				continue
			}
			epoch := int32(-1)
			if req.Version >= 4 {
				epoch = rp.CurrentLeaderEpoch
			}
			h.cluster.ListOffsets(tp, &actors.ListOffsetsRequest{Timestamp: rp.Timestamp, CurrentLeaderEpoch: epoch, Index: len(slots), Reply: replies})
			slots = append(slots, sp)
		}
	}
	err := collect(ctx, replies, len(slots), 30*time.Second, func(rep actors.ListOffsetsReply) {
		sp := slots[rep.Index]
		sp.ErrorCode, sp.Offset, sp.Timestamp, sp.LeaderEpoch = rep.Code, rep.Offset, rep.Timestamp, rep.LeaderEpoch
		if rep.Code != 0 {
			sp.LeaderEpoch = -1 // Kafka's error answers carry no epoch
		}
		if req.Version == 0 && rep.Code == 0 {
			sp.OldStyleOffsets = []int64{rep.Offset}
		}
	})
	return resp, err
}

// timestampSupported applies the version each special timestamp arrived in.
func timestampSupported(version int16, ts int64) bool {
	switch {
	case ts >= -2:
		return true
	case ts == -3:
		return version >= 7
	case ts == -4:
		return version >= 8
	case ts == -5:
		return version >= 9
	}
	return false
}
