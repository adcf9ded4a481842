package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors/groups"
)

// DescribeGroups v0-6. As in Kafka, member metadata and assignments (and the protocol)
// are shown only for a stable group; a group that does not exist is "Dead", with
// GROUP_ID_NOT_FOUND from v6 on.
func (h *Handlers) handleDescribeGroups(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group = name
		if req.IncludeAuthorizedOperations {
			g.AuthorizedOperations = allGroupOperations
		}
		d, code := h.cluster.DescribeGroup(ctx, name)
		if code == kerr.GroupIDNotFound.Code && req.Version < 6 {
			code = 0
		}
		g.ErrorCode, g.ErrorMessage = code, errMessage(code, "")
		g.State, g.ProtocolType = d.State.String(), d.ProtocolType
		stable := d.State == groups.Stable
		if stable {
			g.Protocol = d.Protocol
		}
		for _, m := range d.Members {
			gm := kmsg.NewDescribeGroupsResponseGroupMember()
			gm.MemberID, gm.InstanceID, gm.ClientID, gm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
			gm.ProtocolMetadata, gm.MemberAssignment = []byte{}, []byte{}
			if stable {
				gm.ProtocolMetadata, gm.MemberAssignment = m.Metadata, m.Assignment
			}
			g.Members = append(g.Members, gm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
