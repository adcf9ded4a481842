package wire

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors/groups"
)

// classicGroupType is the only group type served (KIP-848 "consumer" groups are not).
const classicGroupType = "classic"

// ListGroups v0-5, with the state filter (v4+) and the type filter (v5+), both
// case-insensitive as in Kafka.
func (h *Handlers) handleListGroups(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if len(req.TypesFilter) > 0 && !slices.ContainsFunc(req.TypesFilter, func(t string) bool { return strings.EqualFold(t, classicGroupType) }) {
		return resp, nil
	}
	var states []groups.State
	for _, s := range req.StatesFilter {
		if st, ok := groups.ParseState(s); ok {
			states = append(states, st)
		}
	}
	listed, code := h.cluster.ListGroups()
	resp.ErrorCode = code
	for _, l := range listed {
		if len(req.StatesFilter) > 0 && !slices.Contains(states, l.State) {
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group, g.ProtocolType, g.GroupState, g.GroupType = l.Group, l.ProtocolType, l.State.String(), classicGroupType
		resp.Groups = append(resp.Groups, g)
	}
	return resp, nil
}
