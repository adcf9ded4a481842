package wire

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/metastore/configs"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// DescribeConfigs v0-4 for topics (every topic config with its effective value and, v1+,
// its synonyms) and brokers (the static configuration plus dynamic overrides; resource
// name is this broker's id, or "" for the cluster-wide dynamic defaults).
func (h *Handlers) handleDescribeConfigs(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	img := h.cluster.Image()
	for _, rr := range req.Resources {
		rs := kmsg.NewDescribeConfigsResponseResource()
		rs.ResourceType, rs.ResourceName = rr.ResourceType, rr.ResourceName
		values, code, msg := h.describeResource(img, rr.ResourceType, rr.ResourceName)
		rs.ErrorCode, rs.ErrorMessage = code, errMessage(code, msg)
		if code == 0 {
			rs.Configs = describeValues(req, rr, values, h.cfg.StaticInfo)
		}
		resp.Resources = append(resp.Resources, rs)
	}
	return resp, nil
}

func (h *Handlers) describeResource(img *metastore.Image, typ kmsg.ConfigResourceType, name string) ([]configs.Value, int16, string) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if err := fsm.ValidateTopicName(name); err != nil {
			return nil, kerr.InvalidTopicException.Code, err.Error() // ConfigHelper.describeConfigs: Topic.validate
		}
		t := img.Topics[name]
		if t == nil {
			return nil, kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("topic %q does not exist", name)
		}
		return configs.ResolveTopic(t.Configs, h.brokerConfigs(img)), 0, ""
	case kmsg.ConfigResourceTypeBroker:
		if code, msg := h.checkBrokerResource(name); code != 0 {
			return nil, code, msg
		}
		if name == "" {
			return clusterDefaults(img), 0, ""
		}
		return configs.ResolveBroker(h.brokerConfigs(img)), 0, ""
	}
	return nil, kerr.InvalidRequest.Code, fmt.Sprintf("config resource type %d is not supported", typ)
}

// checkBrokerResource accepts this broker's id or "" (the cluster-wide default).
func (h *Handlers) checkBrokerResource(name string) (int16, string) {
	if name == "" {
		return 0, ""
	}
	id, err := strconv.Atoi(name)
	if err != nil {
		return kerr.InvalidRequest.Code, fmt.Sprintf("broker resource name %q is not a broker id", name)
	}
	if int32(id) != h.cfg.NodeID {
		return kerr.InvalidRequest.Code, fmt.Sprintf("broker %d: this is broker %d; send broker config requests to the broker they describe", id, h.cfg.NodeID)
	}
	return 0, ""
}

// clusterDefaults lists the dynamic cluster-wide broker overrides.
func clusterDefaults(img *metastore.Image) []configs.Value {
	m := img.BrokerConfigs[""]
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]configs.Value, 0, len(names))
	for _, k := range names {
		syn := configs.Synonym{Name: k, Value: m[k], Source: configs.SourceDynamicDefaultBroker}
		out = append(out, configs.Value{Name: k, Value: m[k], Source: syn.Source, Synonyms: []configs.Synonym{syn}})
	}
	return out
}

func describeValues(req *kmsg.DescribeConfigsRequest, rr kmsg.DescribeConfigsRequestResource, values []configs.Value, static map[string]configs.KeyInfo) []kmsg.DescribeConfigsResponseResourceConfig {
	out := []kmsg.DescribeConfigsResponseResourceConfig{}
	for _, v := range values {
		// Null or empty names ask for every config, as in Kafka's
		// ConfigHelperUtils.buildConfigEntries.
		if len(rr.ConfigNames) > 0 && !slices.Contains(rr.ConfigNames, v.Name) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name = v.Name
		value := v.Value
		c.Value = &value
		c.Source = kmsg.ConfigSource(v.Source)
		c.IsDefault = v.Source == configs.SourceDefault
		def := configs.Topic(v.Name)
		if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
			def = configs.DynamicBroker(v.Name)
			c.ReadOnly = def == nil // only the topic-default keys change at run time
		}
		var info configs.KeyInfo
		switch {
		case def != nil:
			info = configs.KeyInfo{Type: def.Type, Doc: def.Doc}
		case rr.ResourceType == kmsg.ConfigResourceTypeBroker:
			info = static[v.Name]
		}
		c.ConfigType = kmsg.ConfigType(info.Type)
		if req.IncludeDocumentation && info.Doc != "" {
			doc := info.Doc
			c.Documentation = &doc
		}
		if req.IncludeSynonyms {
			for _, s := range v.Synonyms {
				syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				sv := s.Value
				syn.Name, syn.Value, syn.Source = s.Name, &sv, kmsg.ConfigSource(s.Source)
				c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
			}
		}
		out = append(out, c)
	}
	return out
}
