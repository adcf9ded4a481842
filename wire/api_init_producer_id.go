package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId v0-5 for idempotent producers: a new producer id (unique in the cluster,
// from blocks allocated through Raft) at epoch 0. Transactions are not supported: a
// transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which producers treat as
// fatal, with a log line saying why.
func (h *Handlers) handleInitProducerID(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		h.log.Warn().Str("transactional_id", *req.TransactionalID).Str("client", r.ClientID).Msg("transactional producer refused: transactions are not supported")
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	}
	id, err := h.cluster.AllocateProducerID(ctx)
	if err != nil {
		h.log.Warn().Err(err).Msg("allocate producer id")
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
