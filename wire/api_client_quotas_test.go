package wire

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The filter checks answer what Kafka's ClientQuotasImage answers, rule by rule.
func TestQuotaFilterChecksAsKafka(t *testing.T) {
	comp := func(typ string, match kmsg.QuotasMatchType, name *string) kmsg.DescribeClientQuotasRequestComponent {
		return kmsg.DescribeClientQuotasRequestComponent{EntityType: typ, MatchType: match, Match: name}
	}
	alice := kmsg.StringPtr("alice")
	for _, c := range []struct {
		name  string
		comps []kmsg.DescribeClientQuotasRequestComponent
		want  int16
	}{
		{"no components: everything", nil, 0},
		{"exact user", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeExact, alice)}, 0},
		{"default user and any client", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeDefault, nil), comp("client-id", kmsg.QuotasMatchTypeAny, nil)}, 0},
		{"any ip", []kmsg.DescribeClientQuotasRequestComponent{comp("ip", kmsg.QuotasMatchTypeAny, nil)}, 0},
		{"empty type", []kmsg.DescribeClientQuotasRequestComponent{comp("", kmsg.QuotasMatchTypeAny, nil)}, kerr.InvalidRequest.Code},
		{"type twice", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeAny, nil), comp("user", kmsg.QuotasMatchTypeExact, alice)}, kerr.InvalidRequest.Code},
		{"unknown type", []kmsg.DescribeClientQuotasRequestComponent{comp("group", kmsg.QuotasMatchTypeAny, nil)}, kerr.UnsupportedVersion.Code},
		{"exact without a name", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeExact, nil)}, kerr.InvalidRequest.Code},
		{"default with a name", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeDefault, alice)}, kerr.InvalidRequest.Code},
		{"any with a name", []kmsg.DescribeClientQuotasRequestComponent{comp("user", kmsg.QuotasMatchTypeAny, alice)}, kerr.InvalidRequest.Code},
		{"unknown match type", []kmsg.DescribeClientQuotasRequestComponent{comp("user", 7, nil)}, kerr.InvalidRequest.Code},
		{"ip with client-id", []kmsg.DescribeClientQuotasRequestComponent{comp("ip", kmsg.QuotasMatchTypeAny, nil), comp("client-id", kmsg.QuotasMatchTypeDefault, nil)}, kerr.InvalidRequest.Code},
	} {
		code, msg := checkQuotaFilter(c.comps)
		if code != c.want || (code != 0) != (msg != "") {
			t.Errorf("%s: code %d message %q, want code %d (and a message with any error)", c.name, code, msg, c.want)
		}
	}
}
