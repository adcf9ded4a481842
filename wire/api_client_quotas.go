package wire

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeClientQuotas v0-1. The node enforces no client quotas, so every valid filter
// matches nothing: an empty list, as from a Kafka broker where none are set. The filter is
// checked as Kafka's ClientQuotasImage checks it, with its errors and words, so a tool's
// mistake is reported the same way. AlterClientQuotas stays unadvertised: a quota the node
// would store but not enforce would mislead.

// The entity types a quota can name (Kafka's ClientQuotaEntity).
const (
	quotaEntityUser     = "user"
	quotaEntityClientID = "client-id"
	quotaEntityIP       = "ip"
)

func (h *Handlers) handleDescribeClientQuotas(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if code, msg := checkQuotaFilter(req.Components); code != 0 {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return resp, nil
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	return resp, nil
}

// checkQuotaFilter returns the error Kafka answers a malformed filter with, or 0.
func checkQuotaFilter(components []kmsg.DescribeClientQuotasRequestComponent) (int16, string) {
	seen := make(map[string]bool, len(components))
	for _, c := range components {
		switch {
		case c.EntityType == "":
			return kerr.InvalidRequest.Code, "Invalid empty entity type."
		case seen[c.EntityType]:
			return kerr.InvalidRequest.Code, fmt.Sprintf("Entity type %s cannot appear more than once in the filter.", c.EntityType)
		case c.EntityType != quotaEntityUser && c.EntityType != quotaEntityClientID && c.EntityType != quotaEntityIP:
			return kerr.UnsupportedVersion.Code, "Unsupported entity type " + c.EntityType
		}
		seen[c.EntityType] = true
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if c.Match == nil {
				return kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_EXACT, but set match string to null."
			}
		case kmsg.QuotasMatchTypeDefault:
			if c.Match != nil {
				return kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."
			}
		case kmsg.QuotasMatchTypeAny:
			if c.Match != nil {
				return kerr.InvalidRequest.Code, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."
			}
		default:
			return kerr.InvalidRequest.Code, fmt.Sprintf("Unknown match type %d", c.MatchType)
		}
	}
	if seen[quotaEntityIP] && (seen[quotaEntityUser] || seen[quotaEntityClientID]) {
		return kerr.InvalidRequest.Code, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."
	}
	return 0, ""
}
