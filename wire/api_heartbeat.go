package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors/groups"
)

// Heartbeat v0-4 keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to
// rejoin.
func (h *Handlers) handleHeartbeat(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = h.cluster.Heartbeat(ctx, req.Group, groups.MemberRef{MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation})
	return resp, nil
}
