package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors/groups"
)

// LeaveGroup v0-5: v0-2 name one member; v3+ a batch, where a static member may be named
// by its instance id alone (administrative removal).
func (h *Handlers) handleLeaveGroup(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	var refs []groups.MemberRef
	if req.Version < 3 {
		refs = []groups.MemberRef{{MemberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			ref := groups.MemberRef{MemberID: m.MemberID, InstanceID: m.InstanceID}
			if m.Reason != nil {
				ref.Reason = *m.Reason
			}
			refs = append(refs, ref)
		}
	}
	results, code := h.cluster.LeaveGroup(ctx, req.Group, refs)
	resp.ErrorCode = code
	if code != 0 {
		return resp, nil
	}
	if req.Version < 3 {
		resp.ErrorCode = results[0].Code
		return resp, nil
	}
	for _, res := range results {
		m := kmsg.NewLeaveGroupResponseMember()
		m.MemberID, m.InstanceID, m.ErrorCode = res.MemberID, res.InstanceID, res.Code
		resp.Members = append(resp.Members, m)
	}
	return resp, nil
}
