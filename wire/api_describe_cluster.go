package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster v0-2: the cluster id, the controller (the metadata Raft leader) and the
// registered brokers. Every node is both broker and controller, so either endpoint type
// (v1+) gets the same answer; no broker is ever fenced (v2).
func (h *Handlers) handleDescribeCluster(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != 1 && req.EndpointType != 2 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = errMessage(resp.ErrorCode, "")
		return resp, nil
	}
	img := h.cluster.Image()
	resp.EndpointType = req.EndpointType
	resp.ClusterID = img.ClusterID
	resp.ControllerID = h.cluster.Controller()
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = allClusterOperations
	}
	for _, id := range brokerIDs(img) {
		b := img.Brokers[id]
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, b.Host, b.Port, rackOf(b)
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp, nil
}
