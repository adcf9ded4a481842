package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeAcls, CreateAcls and DeleteAcls v0-3. The node has no authorizer, and answers
// as Kafka's broker without one does (AclApis): SECURITY_DISABLED, for the request or for
// each creation and filter. Admin tools and UIs ask for ACLs to find out whether they are
// in force; an unsupported API told them something else went wrong.

// Kafka's own words, which differ between the two.
const (
	noAuthorizerDescribe = "No Authorizer is configured on the broker"
	noAuthorizer         = "No Authorizer is configured."
)

func (h *Handlers) handleDescribeAcls(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, kmsg.StringPtr(noAuthorizerDescribe)
	return resp, nil
}

func (h *Handlers) handleCreateAcls(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	for range req.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = kerr.SecurityDisabled.Code, kmsg.StringPtr(noAuthorizer)
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func (h *Handlers) handleDeleteAcls(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	for range req.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = kerr.SecurityDisabled.Code, kmsg.StringPtr(noAuthorizer)
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
