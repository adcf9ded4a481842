package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListPartitionReassignments v0 (kafka-reassign-partitions --list,
// Admin.listPartitionReassignments) lists the reassignments in progress. Replicas are
// never moved here, so there are none, for any partition asked about, as Kafka answers
// when nothing is moving.
func (h *Handlers) handleListPartitionReassignments(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ListPartitionReassignmentsRequest)
	return req.ResponseKind(), nil
}
