package wire

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/metastore/configs"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// AlterConfigs v0-2 replaces a resource's overrides with exactly the given set;
// IncrementalAlterConfigs v0-1 sets, deletes, appends to or subtracts from single keys.
// Both validate every key and value first (INVALID_CONFIG, or INVALID_REQUEST for broker
// keys that cannot change at run time) and then apply each resource as one AlterConfigs
// command through Raft.

func (h *Handlers) handleAlterConfigs(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	resp.Resources = make([]kmsg.AlterConfigsResponseResource, len(req.Resources))
	for i, rr := range req.Resources {
		resp.Resources[i] = kmsg.NewAlterConfigsResponseResource()
		resp.Resources[i].ResourceType, resp.Resources[i].ResourceName = rr.ResourceType, rr.ResourceName
	}
	repeated := repeatedResources(req.Resources, func(r kmsg.AlterConfigsRequestResource) resourceKey {
		return resourceKey{r.ResourceType, r.ResourceName}
	})
	h.alterResources(ctx, len(req.Resources), req.ValidateOnly,
		func(i int, _ *metastore.Image) (kmsg.ConfigResourceType, *fsm.AlterConfigs, int16, string) {
			rr := &req.Resources[i]
			if repeated[i] {
				return rr.ResourceType, nil, kerr.InvalidRequest.Code, repeatedResourceMessage
			}
			set := map[string]string{}
			seen := map[string]bool{}
			for _, c := range rr.Configs {
				if seen[c.Name] {
					return rr.ResourceType, nil, kerr.InvalidRequest.Code, fmt.Sprintf("config %q is listed more than once", c.Name)
				}
				seen[c.Name] = true
				if c.Value == nil {
					// A key is removed by leaving it out; Kafka refuses a null.
					return rr.ResourceType, nil, kerr.InvalidRequest.Code, fmt.Sprintf("null value not supported for config %q", c.Name)
				}
				set[c.Name] = *c.Value
			}
			return rr.ResourceType, &fsm.AlterConfigs{ResourceName: rr.ResourceName, Replace: true, Set: set}, 0, ""
		},
		func(i int, code int16, msg string) {
			resp.Resources[i].ErrorCode, resp.Resources[i].ErrorMessage = code, errMessage(code, msg)
		})
	return resp, nil
}

func (h *Handlers) handleIncrementalAlterConfigs(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resp.Resources = make([]kmsg.IncrementalAlterConfigsResponseResource, len(req.Resources))
	for i, rr := range req.Resources {
		resp.Resources[i] = kmsg.NewIncrementalAlterConfigsResponseResource()
		resp.Resources[i].ResourceType, resp.Resources[i].ResourceName = rr.ResourceType, rr.ResourceName
	}
	repeated := repeatedResources(req.Resources, func(r kmsg.IncrementalAlterConfigsRequestResource) resourceKey {
		return resourceKey{r.ResourceType, r.ResourceName}
	})
	h.alterResources(ctx, len(req.Resources), req.ValidateOnly,
		func(i int, img *metastore.Image) (kmsg.ConfigResourceType, *fsm.AlterConfigs, int16, string) {
			rr := &req.Resources[i]
			if repeated[i] {
				return rr.ResourceType, nil, kerr.InvalidRequest.Code, repeatedResourceMessage
			}
			cmd, code, msg := h.incrementalCommand(img, rr)
			return rr.ResourceType, cmd, code, msg
		},
		func(i int, code int16, msg string) {
			resp.Resources[i].ErrorCode, resp.Resources[i].ErrorMessage = code, errMessage(code, msg)
		})
	return resp, nil
}

// resourceKey identifies a config resource in a request.
type resourceKey struct {
	typ  kmsg.ConfigResourceType
	name string
}

// repeatedResourceMessage is Kafka's answer to a resource named more than once.
const repeatedResourceMessage = "Each resource must appear at most once."

// repeatedResources marks the resources named more than once in one request: Kafka's
// ConfigAdminManager.preprocess refuses each of them (INVALID_REQUEST) and applies none.
func repeatedResources[R any](resources []R, key func(R) resourceKey) []bool {
	count := map[resourceKey]int{}
	for _, r := range resources {
		count[key(r)]++
	}
	out := make([]bool, len(resources))
	for i, r := range resources {
		out[i] = count[key(r)] > 1
	}
	return out
}

// alterResources is the shared body of both handlers: build turns resource i into its
// command (or the error it gets), checkAlteration validates it, result records each
// resource's outcome, and the valid commands go through Raft as one entry unless the
// request only validates.
func (h *Handlers) alterResources(ctx context.Context, n int, validateOnly bool,
	build func(i int, img *metastore.Image) (kmsg.ConfigResourceType, *fsm.AlterConfigs, int16, string),
	result func(i int, code int16, msg string)) {
	img := h.cluster.Image()
	var (
		cmds []fsm.Command
		idx  []int
	)
	for i := range n {
		typ, cmd, code, msg := build(i, img)
		if code == 0 {
			code, msg = h.checkAlteration(img, typ, cmd)
		}
		result(i, code, msg)
		if code == 0 {
			cmds = append(cmds, fsm.Command{AlterConfigs: cmd})
			idx = append(idx, i)
		}
	}
	if validateOnly || len(cmds) == 0 {
		return
	}
	for i, res := range h.propose(ctx, cmds) {
		result(idx[i], res.Code, res.Message)
	}
}

// incrementalCommand turns SET/DELETE/APPEND/SUBTRACT operations into the keys to set and
// delete, reading current values for the list operations.
func (h *Handlers) incrementalCommand(img *metastore.Image, rr *kmsg.IncrementalAlterConfigsRequestResource) (*fsm.AlterConfigs, int16, string) {
	cmd := &fsm.AlterConfigs{ResourceName: rr.ResourceName, Set: map[string]string{}}
	current := h.currentValues(img, rr.ResourceType, rr.ResourceName)
	seen := map[string]bool{}
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return nil, kerr.InvalidRequest.Code, fmt.Sprintf("config %q is listed more than once", c.Name)
		}
		seen[c.Name] = true
		value := ""
		if c.Value != nil {
			value = *c.Value
		} else if c.Op != kmsg.IncrementalAlterConfigOpDelete {
			return nil, kerr.InvalidRequest.Code, fmt.Sprintf("%s of %q needs a value", c.Op, c.Name)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			cmd.Set[c.Name] = value
		case kmsg.IncrementalAlterConfigOpDelete:
			cmd.Delete = append(cmd.Delete, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			def := configs.Topic(c.Name)
			if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
				def = configs.DynamicBroker(c.Name)
			}
			if def == nil || def.Type != configs.TypeList {
				return nil, kerr.InvalidConfig.Code, fmt.Sprintf("APPEND and SUBTRACT apply to list configs; %q is not one", c.Name)
			}
			list := splitList(current(c.Name, def.Default))
			for _, item := range splitList(value) {
				if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(list, item) {
					list = append(list, item)
				}
				if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
					list = slices.DeleteFunc(list, func(s string) bool { return s == item })
				}
			}
			cmd.Set[c.Name] = strings.Join(list, ",")
		default:
			return nil, kerr.InvalidRequest.Code, fmt.Sprintf("unknown config operation %d for %q", c.Op, c.Name)
		}
	}
	return cmd, 0, ""
}

// currentValues returns a lookup of a resource's current override (or a fallback).
func (h *Handlers) currentValues(img *metastore.Image, typ kmsg.ConfigResourceType, name string) func(key, fallback string) string {
	var overrides map[string]string
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if t := img.Topics[name]; t != nil {
			overrides = t.Configs
		}
	case kmsg.ConfigResourceTypeBroker:
		overrides = img.BrokerConfigs[name]
	}
	return func(key, fallback string) string {
		if v, ok := overrides[key]; ok {
			return v
		}
		return fallback
	}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// checkAlteration validates a resource change and fills in the command's resource type.
func (h *Handlers) checkAlteration(img *metastore.Image, typ kmsg.ConfigResourceType, cmd *fsm.AlterConfigs) (int16, string) {
	keys := append(slices.Sorted(maps.Keys(cmd.Set)), cmd.Delete...)
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		cmd.ResourceType = fsm.ResourceTopic
		// As Kafka's ControllerConfigurationValidator.validateTopicName.
		if cmd.ResourceName == "" {
			return kerr.InvalidRequest.Code, "Default topic resources are not allowed."
		}
		if err := fsm.ValidateTopicName(cmd.ResourceName); err != nil {
			return kerr.InvalidTopicException.Code, err.Error()
		}
		if img.Topics[cmd.ResourceName] == nil {
			return kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("topic %q does not exist", cmd.ResourceName)
		}
		for _, k := range keys {
			if configs.Topic(k) == nil {
				return kerr.InvalidConfig.Code, fmt.Sprintf("unknown topic config %q", k)
			}
		}
		if err := configs.ValidateTopic(cmd.Set); err != nil {
			return kerr.InvalidConfig.Code, err.Error()
		}
	case kmsg.ConfigResourceTypeBroker:
		cmd.ResourceType = fsm.ResourceBroker
		if code, msg := h.checkBrokerResource(cmd.ResourceName); code != 0 {
			return code, msg
		}
		for _, k := range keys {
			def := configs.DynamicBroker(k)
			if def == nil {
				return kerr.InvalidRequest.Code, fmt.Sprintf("broker config %q cannot be updated dynamically", k)
			}
			if v, ok := cmd.Set[k]; ok {
				if err := def.Validate(v); err != nil {
					return kerr.InvalidConfig.Code, err.Error()
				}
			}
		}
	default:
		return kerr.InvalidRequest.Code, fmt.Sprintf("config resource type %d is not supported", typ)
	}
	return 0, ""
}
