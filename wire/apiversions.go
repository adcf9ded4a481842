package wire

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	apiVersionsKey int16 = 18
	// apiVersionsMaxVersion is the newest ApiVersions we serve. v5 (KIP-1242) adds a
	// cluster/node check we do not implement, so clients are steered to v4 by KIP-511.
	apiVersionsMaxVersion int16 = 4
)

// handleApiVersions answers ApiVersions v0–v4 from the registry's current contents, so
// the advertised list can never drift from what the server actually dispatches.
func (r *Registry) handleApiVersions(_ context.Context, req *Request) (kmsg.Response, error) {
	areq, ok := req.Body.(*kmsg.ApiVersionsRequest)
	if !ok {
		return nil, fmt.Errorf("ApiVersions handler got %T", req.Body)
	}
	resp := areq.ResponseKind().(*kmsg.ApiVersionsResponse)
	// Brokers reject v3+ requests whose software name or version break the KIP-511
	// pattern; clients that validate (kgo, the Java client) never send such values.
	if areq.Version >= 3 && (!validSoftwareIdent(areq.ClientSoftwareName) || !validSoftwareIdent(areq.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	resp.ApiKeys = slices.Clone(r.table.Load().versions)
	return resp, nil
}

// apiVersionsTooNewResponse is the KIP-511 answer to an ApiVersions request newer than
// we serve: a v0 response (the one layout every client can read) with
// UNSUPPORTED_VERSION and only the ApiVersions range, as Apache Kafka sends it. Clients
// then retry at the highest version we listed and learn the full table from that.
func apiVersionsTooNewResponse() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	key := kmsg.NewApiVersionsResponseApiKey()
	key.ApiKey, key.MinVersion, key.MaxVersion = apiVersionsKey, 0, apiVersionsMaxVersion
	resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{key}
	return resp
}

// validSoftwareIdent matches [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?, the pattern
// Kafka enforces for ClientSoftwareName and ClientSoftwareVersion.
func validSoftwareIdent(s string) bool {
	alnum := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
