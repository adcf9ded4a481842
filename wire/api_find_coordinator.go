package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator types of FindCoordinator.
const (
	coordinatorGroup       int8 = 0
	coordinatorTransaction int8 = 1
)

// FindCoordinator v0-6. The metadata Raft leader coordinates every group (and would
// every transactional id), so the answer is the controller for any key, like Kafka
// answers for any group id, the empty one included. v4+ batches keys. Share group
// coordinators (type 2) are not served.
func (h *Handlers) handleFindCoordinator(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	img := h.cluster.Image()
	controller := h.cluster.Controller()
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Port = key, -1, -1
		switch b, ok := img.Brokers[controller]; {
		case req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction:
			c.ErrorCode = kerr.InvalidRequest.Code
		case controller < 0 || !ok:
			c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		default:
			c.NodeID, c.Host, c.Port = b.ID, b.Host, b.Port
		}
		c.ErrorMessage = errMessage(c.ErrorCode, "")
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if req.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
	}
	return resp, nil
}
