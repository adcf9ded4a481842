package wire

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/metastore/configs"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// CreateTopics v0-7.
//
// Every valid topic of the request becomes one CreateTopic command; they travel through
// Raft as one entry and each topic gets its own result. v1+ validate-only checks without
// creating. v5+ answers with the partition count, replication factor and effective
// configs; v7 with the topic id. -1 partitions or replication factor means the broker
// default (v4+).
func (h *Handlers) handleCreateTopics(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	img := h.cluster.Image()

	count := map[string]int{}
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	type planned struct {
		idx int
		cmd *fsm.CreateTopic
	}
	var plan []planned
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		var code int16
		var msg string
		var cmd *fsm.CreateTopic
		if count[rt.Topic] > 1 {
			code, msg = kerr.InvalidRequest.Code, fmt.Sprintf("topic %q is listed %d times in the request", rt.Topic, count[rt.Topic])
		} else {
			cmd, code, msg = h.planTopic(img, &rt)
		}
		st.ErrorCode, st.ErrorMessage = code, errMessage(code, msg)
		resp.Topics[i] = st
		if code == 0 {
			plan = append(plan, planned{i, cmd})
		}
	}

	if !req.ValidateOnly && len(plan) > 0 {
		cmds := make([]fsm.Command, len(plan))
		for i, p := range plan {
			cmds[i] = fsm.Command{CreateTopic: p.cmd}
		}
		for i, res := range h.propose(ctx, cmds) {
			st := &resp.Topics[plan[i].idx]
			st.ErrorCode, st.ErrorMessage = res.Code, errMessage(res.Code, res.Message)
		}
	}
	img = h.cluster.Image()
	for _, p := range plan {
		st := &resp.Topics[p.idx]
		if st.ErrorCode != 0 {
			continue
		}
		st.NumPartitions = int32(len(p.cmd.Replicas))
		st.ReplicationFactor = int16(len(p.cmd.Replicas[0]))
		if !req.ValidateOnly {
			st.TopicID = p.cmd.ID
		}
		for _, v := range configs.ResolveTopic(p.cmd.Configs, h.brokerConfigs(img)) {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.Source = v.Name, int8(v.Source)
			value := v.Value
			c.Value = &value
			st.Configs = append(st.Configs, c)
		}
	}
	return resp, nil
}

// planTopic validates one requested topic and builds its command, or returns the error
// code and message the topic gets.
func (h *Handlers) planTopic(img *metastore.Image, rt *kmsg.CreateTopicsRequestTopic) (*fsm.CreateTopic, int16, string) {
	if err := fsm.ValidateTopicName(rt.Topic); err != nil {
		return nil, kerr.InvalidTopicException.Code, err.Error()
	}
	if isInternalTopic(rt.Topic) {
		return nil, kerr.InvalidRequest.Code, internalTopicCreation(rt.Topic)
	}
	if _, ok := img.Topics[rt.Topic]; ok {
		return nil, kerr.TopicAlreadyExists.Code, fmt.Sprintf("topic %q already exists", rt.Topic)
	}
	// Checked here too so that validate-only answers it, as Kafka's validateNewTopicNames does.
	if other := img.CollidingTopic(rt.Topic); other != "" {
		return nil, kerr.InvalidTopicException.Code, fsm.CollisionMessage(rt.Topic, other)
	}
	overrides := map[string]string{}
	for _, c := range rt.Configs {
		if c.Value == nil {
			// As ReplicationControlManager.computeConfigChanges: a default is asked for by
			// leaving the key out.
			return nil, kerr.InvalidConfig.Code, fmt.Sprintf("Null value not supported for topic configs: %s", c.Name)
		}
		overrides[c.Name] = *c.Value
	}
	if err := configs.ValidateTopic(overrides); err != nil {
		return nil, kerr.InvalidConfig.Code, err.Error()
	}
	if len(overrides) == 0 {
		overrides = nil
	}
	brokers := brokerIDs(img)
	cmd := &fsm.CreateTopic{Name: rt.Topic, ID: metastore.NewUUID(), Configs: overrides}

	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return nil, kerr.InvalidRequest.Code, "both a replica assignment and a partition count or replication factor were given"
		}
		replicas, msg := manualAssignment(rt.ReplicaAssignment, brokers)
		if msg != "" {
			return nil, kerr.InvalidReplicaAssignment.Code, msg
		}
		cmd.Replicas = replicas
		return cmd, 0, ""
	}

	partitions, rf := rt.NumPartitions, rt.ReplicationFactor
	if partitions == -1 {
		partitions = h.cfg.NumPartitions
	}
	if rf == -1 {
		rf = h.cfg.ReplicationFactor
	}
	if partitions <= 0 {
		return nil, kerr.InvalidPartitions.Code, fmt.Sprintf("number of partitions must be larger than 0, got %d", rt.NumPartitions)
	}
	if partitions > 1_000_000 {
		return nil, kerr.InvalidPartitions.Code, fmt.Sprintf("%d partitions is more than this broker accepts for one topic", partitions)
	}
	if rf <= 0 {
		return nil, kerr.InvalidReplicationFactor.Code, fmt.Sprintf("replication factor must be larger than 0, got %d", rt.ReplicationFactor)
	}
	if int(rf) > len(brokers) {
		return nil, kerr.InvalidReplicationFactor.Code, fmt.Sprintf("replication factor: %d larger than available brokers: %d", rf, len(brokers))
	}
	cmd.Replicas = assignReplicas(rt.Topic, brokers, 0, partitions, rf)
	return cmd, 0, ""
}

// manualAssignment checks a client-given assignment: partitions 0..n-1 each listed once,
// the same replication factor everywhere, registered brokers, no broker twice.
func manualAssignment(in []kmsg.CreateTopicsRequestTopicReplicaAssignment, brokers []int32) ([][]int32, string) {
	out := make([][]int32, len(in))
	for _, a := range in {
		if a.Partition < 0 || int(a.Partition) >= len(in) || out[a.Partition] != nil {
			return nil, fmt.Sprintf("partitions must be numbered 0..%d, each once; got %d", len(in)-1, a.Partition)
		}
		if len(a.Replicas) == 0 {
			return nil, fmt.Sprintf("partition %d has no replicas", a.Partition)
		}
		for j, b := range a.Replicas {
			if !slices.Contains(brokers, b) {
				return nil, fmt.Sprintf("partition %d: broker %d is not registered", a.Partition, b)
			}
			if slices.Contains(a.Replicas[:j], b) {
				return nil, fmt.Sprintf("partition %d: broker %d listed twice", a.Partition, b)
			}
		}
		out[a.Partition] = a.Replicas
	}
	for _, r := range out {
		if len(r) != len(out[0]) {
			return nil, "all partitions must have the same number of replicas"
		}
	}
	return out, ""
}
