package wire

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
)

// DeleteRecords v0-2 moves partitions' log start offsets (-1: the high watermark);
// whole segments below it are deleted and the records before it are no longer readable.
func (h *Handlers) handleDeleteRecords(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	img := h.cluster.Image()
	var slots []*kmsg.DeleteRecordsResponseTopicPartition
	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			if legacyInternalTopic(img, rt.Topic) {
				sp.ErrorCode = kerr.InvalidTopicException.Code
				continue
			}
			slots = append(slots, sp)
		}
	}
	replies := make(chan actors.DeleteRecordsReply, len(slots))
	i := 0
	for _, rt := range req.Topics {
		if legacyInternalTopic(img, rt.Topic) {
			continue
		}
		for _, rp := range rt.Partitions {
			h.cluster.DeleteRecords(actors.TopicPartition{Topic: rt.Topic, Partition: rp.Partition},
				&actors.DeleteRecordsRequest{Offset: rp.Offset, Index: i, Reply: replies})
			i++
		}
	}
	timeout := time.Duration(req.TimeoutMillis)*time.Millisecond + 5*time.Second
	err := collect(ctx, replies, len(slots), timeout, func(rep actors.DeleteRecordsReply) {
		slots[rep.Index].ErrorCode, slots[rep.Index].LowWatermark = rep.Code, rep.LowWatermark
	})
	return resp, err
}
