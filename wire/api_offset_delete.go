package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
)

// OffsetDelete v0 deletes committed offsets of a group: any of an empty group, and of a
// consumer group with members those of topics it no longer subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC otherwise).
func (h *Handlers) handleOffsetDelete(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	img := h.cluster.Image()
	var parts []actors.TopicPartition
	var slots []*kmsg.OffsetDeleteResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(rt.Partitions))
		t := img.Topics[rt.Topic]
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			parts = append(parts, actors.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			slots = append(slots, sp)
		}
	}
	codes, code := h.cluster.DeleteOffsets(ctx, req.Group, parts)
	if code != 0 {
		resp.ErrorCode, resp.Topics = code, nil
		return resp, nil
	}
	for i, c := range codes {
		slots[i].ErrorCode = c
	}
	return resp, nil
}
