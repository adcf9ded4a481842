package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups v0-3 deletes empty groups with their committed offsets; a group with
// members gets NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
func (h *Handlers) handleDeleteGroups(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range req.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group = name
		g.ErrorCode = h.cluster.DeleteGroup(ctx, name)
		g.ErrorMessage = errMessage(g.ErrorCode, "")
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
