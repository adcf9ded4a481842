package wire

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
)

// DescribeProducers v0 lists, per partition, the idempotent producers whose state the
// partition keeps: id, epoch, last sequence and the timestamp of their last batch, as
// Kafka answers it (kafka-transactions.sh describe-producers, kadm, the Java Admin).
// There are no transactions, so no producer has a coordinator epoch or an open
// transaction: both are -1.
func (h *Handlers) handleDescribeProducers(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	var slots []*kmsg.DescribeProducersResponseTopicPartition
	resp.Topics = make([]kmsg.DescribeProducersResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.DescribeProducersResponseTopicPartition, len(rt.Partitions))
		for pi, p := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = p
			slots = append(slots, sp)
		}
	}
	replies := make(chan actors.DescribeProducersReply, len(slots))
	i := 0
	for _, rt := range req.Topics {
		for _, p := range rt.Partitions {
			h.cluster.DescribeProducers(actors.TopicPartition{Topic: rt.Topic, Partition: p},
				&actors.DescribeProducersRequest{Index: i, Reply: replies})
			i++
		}
	}
	err := collect(ctx, replies, len(slots), 30*time.Second, func(rep actors.DescribeProducersReply) {
		sp := slots[rep.Index]
		sp.ErrorCode = rep.Code
		for _, p := range rep.Producers {
			ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
			ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = p.ID, int32(p.Epoch), p.LastSeq()
			if n := len(p.Batches); n > 0 {
				ap.LastTimestamp = p.Batches[n-1].MaxTimestamp
			}
			ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, -1
			sp.ActiveProducers = append(sp.ActiveProducers, ap)
		}
	})
	return resp, err
}
