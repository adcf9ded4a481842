package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors/groups"
)

// SyncGroup v0-5: members wait for the leader's assignment, the leader's SyncGroup
// carries it; the answer comes once the generation is stored.
func (h *Handlers) handleSyncGroup(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	sr := &groups.SyncRequest{
		MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation,
		ProtocolType: req.ProtocolType, Protocol: req.Protocol,
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments = append(sr.Assignments, groups.Assignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	ctx, cancel := untilDraining(ctx, r)
	defer cancel()
	res := h.cluster.SyncGroup(ctx, req.Group, sr)
	resp.ErrorCode, resp.MemberAssignment = res.Code, res.Assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	if res.Code == 0 {
		resp.ProtocolType, resp.Protocol = nonEmpty(res.ProtocolType), nonEmpty(res.Protocol)
	}
	return resp, nil
}
