package test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

func strp(s string) *string { return &s }

// configValue finds a config's value and source in a describe response.
func configValue(t *testing.T, rcs kadm.ResourceConfigs, name string) (string, kmsg.ConfigSource) {
	t.Helper()
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatalf("describe %s: %v %s", rc.Name, rc.Err, rc.ErrMessage)
		}
		for _, c := range rc.Configs {
			if c.Key == name && c.Value != nil {
				return *c.Value, c.Source
			}
		}
	}
	t.Fatalf("config %s not described", name)
	return "", 0
}

func TestKadmTopicLifecycle(t *testing.T) {
	n := startNode(t, "")
	adm := n.admin()
	ctx := testContext(t)

	created, err := adm.CreateTopics(ctx, 6, 1, map[string]*string{"retention.ms": strp("3600000")}, "orders", "payments")
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range created {
		if r.Err != nil {
			t.Fatalf("create %s: %v %s", name, r.Err, r.ErrMessage)
		}
		if r.NumPartitions != 6 || r.ReplicationFactor != 1 || r.ID == (kadm.TopicID{}) {
			t.Fatalf("create %s answered %+v", name, r)
		}
		if c, ok := r.Configs["retention.ms"]; !ok || c.Value == nil || *c.Value != "3600000" {
			t.Fatalf("create %s: retention.ms not echoed: %+v", name, r.Configs)
		}
	}

	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) != 2 || len(topics["orders"].Partitions) != 6 || topics["orders"].ID != created["orders"].ID {
		t.Fatalf("list: %+v", topics)
	}
	for _, p := range topics["orders"].Partitions {
		if p.Leader != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.Err != nil {
			t.Fatalf("partition %+v", p)
		}
	}

	// Describe, alter incrementally, alter by replacement.
	rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if v, src := configValue(t, rcs, "retention.ms"); v != "3600000" || src != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms = %s from %v", v, src)
	}
	if v, src := configValue(t, rcs, "segment.bytes"); v != "1073741824" || src != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("segment.bytes = %s from %v", v, src)
	}
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.bytes", Value: strp("1048576")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, "orders")
	if err != nil || resps[0].Err != nil {
		t.Fatalf("incremental alter: %v %+v", err, resps)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "orders")
	if v, _ := configValue(t, rcs, "segment.bytes"); v != "1048576" {
		t.Fatalf("segment.bytes after alter = %s", v)
	}
	if v, src := configValue(t, rcs, "retention.ms"); v != "604800000" || src != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("retention.ms after delete = %s from %v", v, src)
	}
	resps, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "cleanup.policy", Value: strp("delete")}}, "orders")
	if err != nil || resps[0].Err != nil {
		t.Fatalf("replace alter: %v %+v", err, resps)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "orders")
	if _, src := configValue(t, rcs, "segment.bytes"); src != kmsg.ConfigSourceDefaultConfig {
		t.Fatal("AlterConfigs (replace) kept an override it did not list")
	}

	// Grow, then delete.
	if r, err := adm.UpdatePartitions(ctx, 9, "orders"); err != nil || r["orders"].Err != nil {
		t.Fatalf("update partitions: %v %+v", err, r)
	}
	topics, _ = adm.ListTopics(ctx, "orders")
	if got := len(topics["orders"].Partitions); got != 9 {
		t.Fatalf("%d partitions after growing to 9", got)
	}
	if r, err := adm.DeleteTopics(ctx, "orders"); err != nil || r["orders"].Err != nil {
		t.Fatalf("delete: %v %+v", err, r)
	}
	if names := n.topicNames(ctx); !slices.Equal(names, []string{"payments"}) {
		t.Fatalf("after delete: %v", names)
	}
}

func TestAdminErrorCodes(t *testing.T) {
	n := startNode(t, "")
	adm := n.admin()
	ctx := testContext(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "exists"); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got error, want *kerr.Error) {
		t.Helper()
		if !errors.Is(got, want) {
			t.Errorf("%s: got %v, want %s", what, got, want.Message)
		}
	}
	createErr := func(parts int32, rf int16, cfg map[string]*string, name string) error {
		r, err := adm.CreateTopics(ctx, parts, rf, cfg, name)
		if err != nil {
			t.Fatal(err)
		}
		return r[name].Err
	}
	check("create existing", createErr(1, 1, nil, "exists"), kerr.TopicAlreadyExists)
	check("zero partitions", createErr(0, 1, nil, "p0"), kerr.InvalidPartitions)
	check("replication factor above brokers", createErr(1, 3, nil, "rf3"), kerr.InvalidReplicationFactor)
	check("unknown config", createErr(1, 1, map[string]*string{"no.such.config": strp("1")}, "badcfg"), kerr.InvalidConfig)
	check("bad config value", createErr(1, 1, map[string]*string{"retention.ms": strp("soon")}, "badval"), kerr.InvalidConfig)
	check("null config value", createErr(1, 1, map[string]*string{"retention.ms": nil}, "nullval"), kerr.InvalidConfig)
	// Kafka 3.8's compression levels (KIP-390) are topic configs with Kafka's ranges.
	check("gzip level 0", createErr(1, 1, map[string]*string{"compression.gzip.level": strp("0")}, "gzip0"), kerr.InvalidConfig)
	check("zstd level 23", createErr(1, 1, map[string]*string{"compression.zstd.level": strp("23")}, "zstd23"), kerr.InvalidConfig)
	if err := createErr(1, 1, map[string]*string{"compression.type": strp("zstd"), "compression.zstd.level": strp("-5"),
		"compression.gzip.level": strp("9"), "compression.lz4.level": strp("17")}, "levels"); err != nil {
		t.Errorf("compression levels within Kafka's ranges: %v", err)
	}
	check("bad topic name", createErr(1, 1, nil, "bad name!"), kerr.InvalidTopicException)
	// Replication throttles (kafka-reassign-partitions.sh sets them) and the local
	// retentions are accepted; tiered storage is refused, as by a Kafka broker without it.
	if err := createErr(1, 1, map[string]*string{"leader.replication.throttled.replicas": strp("0:1,1:1"),
		"follower.replication.throttled.replicas": strp("*"), "local.retention.ms": strp("-2"), "remote.storage.enable": strp("false")}, "throttled"); err != nil {
		t.Errorf("replication throttles and local retention: %v", err)
	}
	check("bad throttle list", createErr(1, 1, map[string]*string{"leader.replication.throttled.replicas": strp("all")}, "badthrottle"), kerr.InvalidConfig)
	check("tiered storage", createErr(1, 1, map[string]*string{"remote.storage.enable": strp("true")}, "tiered"), kerr.InvalidConfig)

	// Validate-only creates nothing.
	vr, err := adm.ValidateCreateTopics(ctx, 3, 1, nil, "dry-run")
	if err != nil || vr["dry-run"].Err != nil || vr["dry-run"].NumPartitions != 3 {
		t.Fatalf("validate-only: %v %+v", err, vr)
	}
	if topics, _ := adm.ListTopics(ctx); topics.Has("dry-run") {
		t.Fatal("validate-only created the topic")
	}
	check("validate-only existing", func() error { r, _ := adm.ValidateCreateTopics(ctx, 1, 1, nil, "exists"); return r["exists"].Err }(), kerr.TopicAlreadyExists)
	// A name whose metric name ('.' read as '_') another topic has is refused, validating
	// only or not (ReplicationControlManager.validateNewTopicNames runs for both).
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "metric.name"); err != nil {
		t.Fatal(err)
	}
	check("validate-only collision", func() error {
		r, _ := adm.ValidateCreateTopics(ctx, 1, 1, nil, "metric_name")
		return r["metric_name"].Err
	}(), kerr.InvalidTopicException)
	check("create collision", createErr(1, 1, nil, "metric_name"), kerr.InvalidTopicException)

	dr, err := adm.DeleteTopics(ctx, "missing")
	if err != nil {
		t.Fatal(err)
	}
	check("delete missing", dr["missing"].Err, kerr.UnknownTopicOrPartition)
	pr, err := adm.UpdatePartitions(ctx, 1, "exists")
	if err != nil {
		t.Fatal(err)
	}
	check("shrink partitions", pr["exists"].Err, kerr.InvalidPartitions)
	ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("-5")}}, "exists")
	if err != nil {
		t.Fatal(err)
	}
	check("alter bad value", ar[0].Err, kerr.InvalidConfig)
	ar, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("1")}}, "missing")
	if err != nil {
		t.Fatal(err)
	}
	check("alter missing topic", ar[0].Err, kerr.UnknownTopicOrPartition)
	// Names no topic can have (ControllerConfigurationValidator, ConfigHelper.describeConfigs).
	ar, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("1")}}, "bad name!", "")
	if err != nil || len(ar) != 2 {
		t.Fatal(err, ar)
	}
	for _, r := range ar {
		want := kerr.InvalidTopicException
		if r.Name == "" {
			want = kerr.InvalidRequest // "Default topic resources are not allowed."
		}
		check("alter topic "+strconv.Quote(r.Name), r.Err, want)
	}
	if rcs, err := adm.DescribeTopicConfigs(ctx, "bad name!"); err != nil || len(rcs) != 1 {
		t.Fatal(err, rcs)
	} else {
		check("describe bad topic name", rcs[0].Err, kerr.InvalidTopicException)
	}

	// As Kafka's ConfigAdminManager.preprocess: a resource named twice in one request is
	// INVALID_REQUEST in both places and neither is applied; so is a null value where
	// the operation needs one (legacy AlterConfigs, incremental APPEND).
	incr := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, v := range []string{"1000", "2000"} {
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "exists"
		r.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "retention.ms", Op: kmsg.IncrementalAlterConfigOpSet, Value: strp(v)}}
		incr.Resources = append(incr.Resources, r)
	}
	appendNull := kmsg.NewIncrementalAlterConfigsRequestResource()
	appendNull.ResourceType, appendNull.ResourceName = kmsg.ConfigResourceTypeTopic, "exists"
	appendNull.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "cleanup.policy", Op: kmsg.IncrementalAlterConfigOpAppend}}
	legacy := kmsg.NewPtrAlterConfigsRequest()
	for _, v := range []*string{strp("1000"), strp("2000")} {
		r := kmsg.NewAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "exists"
		r.Configs = []kmsg.AlterConfigsRequestResourceConfig{{Name: "retention.ms", Value: v}}
		legacy.Resources = append(legacy.Resources, r)
	}
	legacyNull := kmsg.NewPtrAlterConfigsRequest()
	legacyNull.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "exists",
		Configs: []kmsg.AlterConfigsRequestResourceConfig{{Name: "retention.ms", Value: strp("1000")}, {Name: "segment.ms"}}}}
	codes := func(req kmsg.Request) []int16 {
		resp, err := n.client().Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []int16
		switch resp := resp.(type) {
		case *kmsg.IncrementalAlterConfigsResponse:
			for _, r := range resp.Resources {
				out = append(out, r.ErrorCode)
			}
		case *kmsg.AlterConfigsResponse:
			for _, r := range resp.Resources {
				out = append(out, r.ErrorCode)
			}
		}
		return out
	}
	appendReq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	appendReq.Resources = []kmsg.IncrementalAlterConfigsRequestResource{appendNull}
	bad := kerr.InvalidRequest.Code
	for what, c := range map[string]struct {
		req  kmsg.Request
		want []int16
	}{
		"incremental, resource twice": {incr, []int16{bad, bad}},
		"incremental APPEND of null":  {appendReq, []int16{bad}},
		"legacy, resource twice":      {legacy, []int16{bad, bad}},
		"legacy null value":           {legacyNull, []int16{bad}},
	} {
		if got := codes(c.req); !slices.Equal(got, c.want) {
			t.Errorf("%s: error codes %v, want %v", what, got, c.want)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "exists")
	if err != nil {
		t.Fatal(err)
	}
	if v, src := configValue(t, rcs, "retention.ms"); src != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("refused alterations changed retention.ms to %s", v)
	}

	// Delete by topic id (DeleteTopics v6): an unknown id, then the real one.
	cl := n.client()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	req.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: [16]byte{9, 9, 9}}}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("delete unknown id: code %d", resp.Topics[0].ErrorCode)
	}
	// A topic named twice, by name or by name and id, is INVALID_REQUEST and stays, as is
	// an entry with neither (ControllerApis.deleteTopics).
	topics, _ := adm.ListTopics(ctx, "exists")
	for i, twice := range [][]kmsg.DeleteTopicsRequestTopic{
		{{Topic: kmsg.StringPtr("exists")}, {Topic: kmsg.StringPtr("exists")}},
		{{Topic: kmsg.StringPtr("exists")}, {TopicID: topics["exists"].ID}},
		{{}},
	} {
		req.Topics = twice
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		for j, rt := range resp.Topics {
			if rt.ErrorCode != kerr.InvalidRequest.Code {
				t.Errorf("delete case %d: entry %d answered %d, want INVALID_REQUEST", i, j, rt.ErrorCode)
			}
		}
		if !slices.Contains(n.topicNames(ctx), "exists") {
			t.Fatalf("delete case %d deleted the topic", i)
		}
	}
	// By id, beside an entry refused for giving both name and id (which does not make
	// the first a duplicate).
	req.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: topics["exists"].ID}, {Topic: kmsg.StringPtr("exists"), TopicID: topics["exists"].ID}}
	resp, err = req.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].ErrorCode != 0 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "exists" ||
		resp.Topics[1].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("delete by id: %v %+v", err, resp)
	}
	if slices.Contains(n.topicNames(ctx), "exists") {
		t.Fatal("topic deleted by id is still listed")
	}
}

func TestBrokerConfigsAndCluster(t *testing.T) {
	n := startNode(t, "num.partitions = 4")
	adm := n.admin()
	ctx := testContext(t)
	rcs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v, src := configValue(t, rcs, "num.partitions"); v != "4" || src != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("num.partitions = %s from %v", v, src)
	}
	// Static keys carry their type and, when asked for, their documentation, as Kafka's
	// ConfigHelper.createBrokerConfigEntry gives every broker config.
	breq := kmsg.NewPtrDescribeConfigsRequest()
	breq.IncludeDocumentation = true
	breq.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "1",
		ConfigNames: []string{"num.partitions", "auto.create.topics.enable", "listeners", "log.retention.check.interval.ms"}}}
	bresp, err := breq.RequestWith(ctx, n.client())
	if err != nil || len(bresp.Resources) != 1 || len(bresp.Resources[0].Configs) != 4 {
		t.Fatalf("describe broker keys: %v %+v", err, bresp)
	}
	wantTypes := map[string]kmsg.ConfigType{"num.partitions": kmsg.ConfigTypeInt, "auto.create.topics.enable": kmsg.ConfigTypeBoolean,
		"listeners": kmsg.ConfigTypeString, "log.retention.check.interval.ms": kmsg.ConfigTypeLong}
	for _, c := range bresp.Resources[0].Configs {
		if c.ConfigType != wantTypes[c.Name] || c.Documentation == nil || *c.Documentation == "" || !c.ReadOnly {
			t.Errorf("broker config %s: type %v, documentation %v, read-only %v; want %v, documented, read-only", c.Name, c.ConfigType, c.Documentation, c.ReadOnly, wantTypes[c.Name])
		}
	}
	// Every topic default is described, set or not, as Kafka describes every broker
	// config (ConfigHelper.describeConfigs lists the broker's whole KafkaConfig).
	if v, src := configValue(t, rcs, "log.cleanup.policy"); v != "delete" || src != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("log.cleanup.policy = %s from %v", v, src)
	}
	// A topic default can change at run time; a static key cannot.
	ar, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.ms", Value: strp("120000")}})
	if err != nil || ar[0].Err != nil {
		t.Fatalf("alter cluster-wide log.retention.ms: %v %+v", err, ar)
	}
	ar, _ = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: strp("2")}})
	if !errors.Is(ar[0].Err, kerr.InvalidRequest) {
		t.Fatalf("altering a static broker key: %+v", ar)
	}
	if _, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults"); err != nil {
		t.Fatal(err)
	}
	topics, _ := adm.ListTopics(ctx, "defaults")
	if got := len(topics["defaults"].Partitions); got != 4 {
		t.Fatalf("topic with default partitions has %d, want num.partitions=4", got)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "defaults")
	if v, src := configValue(t, rcs, "retention.ms"); v != "120000" || src != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("retention.ms = %s from %v, want the dynamic cluster default", v, src)
	}
	// Every topic config is documented, as Kafka documents each (LogConfig.documentationOf).
	treq := kmsg.NewPtrDescribeConfigsRequest()
	treq.IncludeDocumentation = true
	treq.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "defaults"}}
	tresp, err := treq.RequestWith(ctx, n.client())
	if err != nil || len(tresp.Resources) != 1 || len(tresp.Resources[0].Configs) == 0 {
		t.Fatalf("describe topic with documentation: %v %+v", err, tresp)
	}
	for _, c := range tresp.Resources[0].Configs {
		if c.Documentation == nil || *c.Documentation == "" {
			t.Errorf("topic config %s has no documentation", c.Name)
		}
	}
	// An empty list of config names asks for all of them, as a null one does
	// (ConfigHelperUtils.buildConfigEntries).
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dreq.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "defaults", ConfigNames: []string{}}}
	dresp, err := dreq.RequestWith(ctx, n.client())
	if err != nil || len(dresp.Resources) != 1 || dresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe with an empty name list: %v %+v", err, dresp)
	}
	if got := len(dresp.Resources[0].Configs); got < 10 || got != len(rcs[0].Configs) {
		t.Fatalf("describe with an empty name list: %d configs, want all %d", got, len(rcs[0].Configs))
	}

	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Cluster == "" || meta.Controller != 1 || len(meta.Brokers) != 1 || meta.Brokers[0].Port != int32(mustPort(t, n.kafkaAddr)) {
		t.Fatalf("metadata %+v", meta)
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	resp, err := dc.RequestWith(ctx, n.client())
	if err != nil || resp.ClusterID != meta.Cluster || resp.ControllerID != 1 || len(resp.Brokers) != 1 {
		t.Fatalf("describe cluster: %v %+v", err, resp)
	}
}

func mustPort(t *testing.T, addr string) int {
	var host string
	var port int
	if _, err := fmt.Sscanf(addr, "127.0.0.1:%d", &port); err != nil {
		t.Fatalf("parse %s: %v (%s)", addr, err, host)
	}
	return port
}

// An API version the broker does not serve gets UNSUPPORTED_VERSION at the version it was
// sent in, and the connection keeps serving.
func TestUnsupportedVersionOverTheWire(t *testing.T) {
	n := startNode(t, "")
	c, err := net.Dial("tcp", n.kafkaAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	send := func(corr int32, req kmsg.Request) {
		body := req.AppendTo(nil)
		hdr := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.GetVersion()))
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(corr))
		hdr = binary.BigEndian.AppendUint16(hdr, 0) // empty client id
		if req.IsFlexible() {
			hdr = append(hdr, 0)
		}
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)+len(body)))
		if _, err := c.Write(append(append(frame, hdr...), body...)); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(resp kmsg.Response) int32 {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		corr := int32(binary.BigEndian.Uint32(buf))
		buf = buf[4:]
		if resp.IsFlexible() {
			buf = buf[1:]
		}
		if err := resp.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
		return corr
	}

	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 13 // above the 12 this broker serves
	send(1, meta)
	mresp := kmsg.NewPtrMetadataResponse()
	mresp.Version = 13
	if corr := recv(mresp); corr != 1 || mresp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("Metadata v13: correlation %d, error code %d", corr, mresp.ErrorCode)
	}
	// The same connection still serves a supported version.
	meta.Version = 12
	send(2, meta)
	mresp = kmsg.NewPtrMetadataResponse()
	mresp.Version = 12
	if corr := recv(mresp); corr != 2 || mresp.ErrorCode != 0 || len(mresp.Brokers) != 1 {
		t.Fatalf("Metadata v12 after the refusal: correlation %d %+v", corr, mresp)
	}
}

// Deleting a topic removes its data (in the background: freeing a big log takes a while,
// and topic admin must not wait for it), and the name is free at once: the topic created
// again under it starts empty, at offset 0.
func TestDeletedTopicDataGoesAndItsNameIsReusable(t *testing.T) {
	n := startNode(t, "")
	adm, ctx := n.admin(), testContext(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "doomed"); err != nil {
		t.Fatal(err)
	}
	produceNumbered(t, n, "doomed", 0, 2000)
	dataDir := filepath.Join(n.dir, "data", "partitions")
	partitionDirs := func() []string {
		entries, err := os.ReadDir(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "doomed") {
				names = append(names, e.Name())
			}
		}
		return names
	}
	if dirs := partitionDirs(); len(dirs) != 2 {
		t.Fatalf("partition directories before the delete: %v", dirs)
	}
	if r, err := adm.DeleteTopics(ctx, "doomed"); err != nil || r["doomed"].Err != nil {
		t.Fatalf("delete: %v %+v", err, r)
	}
	eventually(t, 20*time.Second, "the deleted topic's directories to go", func() bool { return len(partitionDirs()) == 0 })

	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "doomed"); err != nil {
		t.Fatal(err)
	}
	produceNumbered(t, n, "doomed", 5000, 1)
	got := consumeN(t, n, "doomed", 1)
	if len(got) != 1 || string(got[0].Value) != "5000" || got[0].Offset != 0 {
		t.Fatalf("the topic created again holds %d records, first %q at offset %d; want only the new one at offset 0", len(got), got[0].Value, got[0].Offset)
	}
}

// A topic deleted and created again at once under the same name serves only its own
// data, by name too (Sarama, Fetch v12, Produce by name): the partitions of the deleted
// topic stop one after the other, and until they all had, a request for one not yet
// stopped reached it. Fetches were answered with the deleted topic's records, and
// produces were acknowledged into its log, whose directory was then deleted.
func TestRecreatedTopicNeverServesTheDeletedOnesData(t *testing.T) {
	const partitions = 300
	n := startNode(t, "")
	adm, ctx := n.admin(), testContext(t)
	createTopic(t, n, "reborn", partitions, nil)
	old := n.client(kgo.DefaultProduceTopic("reborn"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var recs []*kgo.Record
	for range 3 * partitions {
		recs = append(recs, &kgo.Record{Value: []byte("deleted")})
	}
	if err := old.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if r, err := adm.DeleteTopics(ctx, "reborn"); err != nil || r["reborn"].Err != nil {
		t.Fatalf("delete: %v %+v", err, r)
	}
	createTopic(t, n, "reborn", partitions, nil)

	// Right away, by name: a fetch of every partition from offset 0 holds nothing...
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes = -1, 50<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "reborn"
	for p := range int32(partitions) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, n.rawClient())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[0].Partitions {
		if len(p.RecordBatches) > 0 || p.HighWatermark > 0 {
			t.Fatalf("partition %d of the new topic answered %d bytes, high watermark %d: the deleted topic's records", p.Partition, len(p.RecordBatches), p.HighWatermark)
		}
	}
	// ...and what is produced by name now is kept.
	byName := n.client(kgo.DefaultProduceTopic("reborn"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxVersions(kversion.V2_8_0())) // Produce v8: topics by name
	recs = recs[:0]
	for p := range int32(partitions) {
		recs = append(recs, &kgo.Record{Partition: p, Value: []byte("new")})
	}
	if err := byName.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the deleted topic's directories to go", func() bool {
		dirs, _ := filepath.Glob(filepath.Join(n.dir, "data", "partitions", "reborn-*.*-delete"))
		return len(dirs) == 0
	})
	got := consumeN(t, n, "reborn", partitions)
	for _, r := range got {
		if string(r.Value) != "new" || r.Offset != 0 {
			t.Fatalf("partition %d of the new topic holds %q at offset %d", r.Partition, r.Value, r.Offset)
		}
	}
	if len(got) != partitions {
		t.Fatalf("the new topic holds %d records, want one in each of %d partitions", len(got), partitions)
	}
}

// A topic whose name is as long as Kafka allows (249 characters) can be deleted and
// created again. Its partition directories ("<topic>-<n>", up to 253 characters) were
// renamed aside with a suffix that took the name past the file system's 255, the
// rename failed, and the topic created again under the name answered
// KAFKA_STORAGE_ERROR: its partitions found the deleted topic's directories in place.
func TestLongestTopicNameCanBeDeletedAndCreatedAgain(t *testing.T) {
	topic := strings.Repeat("t", 249)
	n := startNode(t, "")
	adm, ctx := n.admin(), testContext(t)
	createTopic(t, n, topic, 11, nil)
	produceNumbered(t, n, topic, 0, 100)
	if r, err := adm.DeleteTopics(ctx, topic); err != nil || r[topic].Err != nil {
		t.Fatalf("delete: %v %+v", err, r)
	}
	eventually(t, 20*time.Second, "the deleted topic's directories to go", func() bool {
		dirs, _ := filepath.Glob(filepath.Join(n.dir, "data", "partitions", "t*"))
		return len(dirs) == 0
	})
	createTopic(t, n, topic, 11, nil)
	produceNumbered(t, n, topic, 5000, 11)
	got := consumeN(t, n, topic, 11)
	for _, r := range got {
		if r.Offset != 0 {
			t.Fatalf("partition %d of the topic created again holds %q at offset %d; want only new records, each at offset 0", r.Partition, r.Value, r.Offset)
		}
	}
}
