package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors/groups"
)

// JoinGroup v0-9: the classic group protocol's join phase. The answer waits until the
// group's rebalance completes (at most the rebalance timeout). v4+ new members first get
// MEMBER_ID_REQUIRED with their id (KIP-394); v5+ static members (KIP-345); v9+ a static
// leader that rejoins a stable group skips the assignment (KIP-814).
func (h *Handlers) handleJoinGroup(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	jr := &groups.JoinRequest{
		MemberID: req.MemberID, InstanceID: req.InstanceID, ClientID: r.ClientID, ClientHost: clientHost(r.Conn.RemoteAddr),
		ProtocolType: req.ProtocolType, SessionTimeout: millis(req.SessionTimeoutMillis), RebalanceTimeout: millis(req.RebalanceTimeoutMillis),
		RequireKnownMemberID: req.Version >= 4, SupportsSkipAssignment: req.Version >= 9,
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout // v0 has one timeout for both
	}
	if req.Reason != nil {
		jr.Reason = *req.Reason
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, groups.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	ctx, cancel := untilDraining(ctx, r)
	defer cancel()
	res := h.cluster.JoinGroup(ctx, req.Group, jr)
	resp.ErrorCode, resp.Generation, resp.MemberID, resp.LeaderID = res.Code, res.Generation, res.MemberID, res.LeaderID
	resp.SkipAssignment = res.SkipAssignment
	if res.Code == 0 {
		resp.ProtocolType, resp.Protocol = nonEmpty(res.ProtocolType), nonEmpty(res.Protocol)
	}
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}
