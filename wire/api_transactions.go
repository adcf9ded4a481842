package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListTransactions v0-1 and DescribeTransactions v0. The node refuses transactional
// producers (InitProducerId with a transactional id), so its transaction coordinator
// never holds a transaction: the list is empty and each id is unknown, as Kafka's
// coordinator answers for ids it has never seen. kafka-transactions.sh and admin UIs
// then show no transactions rather than an unsupported API.

// knownTransactionState says whether s is a state Kafka's ListTransactions filter knows
// (its TransactionState names); any other filter is echoed back as unknown.
func knownTransactionState(s string) bool {
	switch s {
	case "Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence":
		return true
	}
	return false
}

func (h *Handlers) handleListTransactions(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	resp.UnknownStateFilters = []string{}
	for _, s := range req.StateFilters {
		if !knownTransactionState(s) {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	resp.TransactionStates = []kmsg.ListTransactionsResponseTransactionState{}
	return resp, nil
}

func (h *Handlers) handleDescribeTransactions(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		st.ErrorCode = kerr.TransactionalIDNotFound.Code
		if id == "" {
			st.ErrorCode = kerr.InvalidRequest.Code
		}
		st.Topics = []kmsg.DescribeTransactionsResponseTransactionStateTopic{}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}
