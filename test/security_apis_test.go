package test

import (
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// The listener is PLAINTEXT. A client configured for SASL gets ILLEGAL_SASL_STATE from
// its SaslHandshake, as from a Kafka PLAINTEXT listener, and fails at once with that
// error; before, the API was unserved and clients reported that the broker has no SASL.
// A client without SASL on the same node is unaffected.
func TestSaslClientsAreToldTheListenerIsPlaintext(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)

	sasl := n.client(kgo.SASL(plain.Auth{User: "alice", Pass: "secret"}.AsMechanism()), kgo.RequestRetries(0))
	if err := sasl.Ping(ctx); !errors.Is(err, kerr.IllegalSaslState) {
		t.Fatalf("kgo with SASL/PLAIN: ping error %v, want ILLEGAL_SASL_STATE", err)
	}
	if err := n.client().Ping(ctx); err != nil {
		t.Fatalf("a client without SASL: %v", err)
	}

	cfg := saramaConfig()
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.User, cfg.Net.SASL.Password = "alice", "secret"
	cfg.Net.DialTimeout = 10 * time.Second
	b := sarama.NewBroker(n.kafkaAddr)
	if err := b.Open(cfg); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.GetMetadata(&sarama.MetadataRequest{Version: 1}); !errors.Is(err, sarama.ErrIllegalSASLState) {
		t.Fatalf("Sarama with SASL/PLAIN: %v, want ILLEGAL_SASL_STATE", err)
	}

	// SaslAuthenticate sent directly gets Kafka's answer for a connection that needs none.
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.SASLAuthBytes = []byte("\x00alice\x00secret")
	ar, err := auth.RequestWith(ctx, n.client())
	if err != nil {
		t.Fatal(err)
	}
	if ar.ErrorCode != kerr.IllegalSaslState.Code || ar.ErrorMessage == nil {
		t.Fatalf("SaslAuthenticate: error %d (%v), want ILLEGAL_SASL_STATE with a message", ar.ErrorCode, ar.ErrorMessage)
	}
}

// Admin tools and UIs list client quotas, SCRAM users and transactions. The node has
// none of them, and says so as a Kafka broker with none would: empty lists, and for a
// named user or transactional id, "not found". A malformed quota filter is refused with
// Kafka's error.
func TestAdminListsOfQuotasScramUsersAndTransactionsAreEmpty(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	adm := n.admin()

	quotas, err := adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(quotas) != 0 {
		t.Fatalf("DescribeClientQuotas of everything: %v, %v; want none", quotas, err)
	}
	user := "alice"
	quotas, err = adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: &user}})
	if err != nil || len(quotas) != 0 {
		t.Fatalf("DescribeClientQuotas of user alice: %v, %v; want none", quotas, err)
	}
	_, err = adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{
		{Type: "user", MatchType: kmsg.QuotasMatchTypeAny}, {Type: "ip", MatchType: kmsg.QuotasMatchTypeAny}})
	if !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("a filter of user and ip: %v, want INVALID_REQUEST", err)
	}
	_, err = adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "group", MatchType: kmsg.QuotasMatchTypeAny}})
	if !errors.Is(err, kerr.UnsupportedVersion) {
		t.Fatalf("a filter of an unknown entity type: %v, want UNSUPPORTED_VERSION", err)
	}

	all, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil || len(all) != 0 {
		t.Fatalf("DescribeUserSCRAMs of every user: %v, %v; want none", all, err)
	}
	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, u := range []string{"alice", "bob", "alice"} {
		ru := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		ru.Name = u
		req.Users = append(req.Users, ru)
	}
	resp, err := req.RequestWith(ctx, n.client())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int16{}
	for _, r := range resp.Results {
		got[r.User] = r.ErrorCode
	}
	if len(resp.Results) != 2 || got["alice"] != kerr.DuplicateResource.Code || got["bob"] != kerr.ResourceNotFound.Code {
		t.Fatalf("describing alice twice and bob: %+v, want DUPLICATE_RESOURCE for alice and RESOURCE_NOT_FOUND for bob", resp.Results)
	}

	listed, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil || len(listed) != 0 {
		t.Fatalf("ListTransactions: %v, %v; want none", listed, err)
	}
	lreq := kmsg.NewPtrListTransactionsRequest()
	lreq.StateFilters = []string{"Ongoing", "Sleeping"}
	lresp, err := lreq.RequestWith(ctx, n.client())
	if err != nil {
		t.Fatal(err)
	}
	if lresp.ErrorCode != 0 || len(lresp.UnknownStateFilters) != 1 || lresp.UnknownStateFilters[0] != "Sleeping" {
		t.Fatalf("ListTransactions filtered by Ongoing and Sleeping: %+v, want Sleeping reported unknown", lresp)
	}
	described, err := adm.DescribeTransactions(ctx, "orders-app")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := described["orders-app"]; !ok || !errors.Is(d.Err, kerr.TransactionalIDNotFound) {
		t.Fatalf("DescribeTransactions of orders-app: %+v, want TRANSACTIONAL_ID_NOT_FOUND", described)
	}
}
