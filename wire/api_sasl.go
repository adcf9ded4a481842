package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake v0-1 and SaslAuthenticate v0-2. The node's listener is PLAINTEXT, and it
// answers both as a Kafka broker's PLAINTEXT listener does (KafkaApis): ILLEGAL_SASL_STATE,
// with no mechanisms. A client configured for SASL then fails at once with an error that
// says so ("Request is not valid given the current SASL state"), where an unserved API
// left librdkafka reporting that the broker does not support SASL at all.

func (h *Handlers) handleSaslHandshake(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	resp.SupportedMechanisms = []string{}
	return resp, nil
}

func (h *Handlers) handleSaslAuthenticate(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate request received after successful authentication")
	resp.SASLAuthBytes = []byte{}
	return resp, nil
}
