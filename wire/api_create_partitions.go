package wire

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/raftnode/fsm"
)

// CreatePartitions v0-3: grow topics to Count partitions, with a client-given assignment
// for the new partitions or the broker's. Shrinking is INVALID_PARTITIONS.
func (h *Handlers) handleCreatePartitions(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	img := h.cluster.Image()
	brokers := brokerIDs(img)

	count := map[string]int{}
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	var (
		cmds []fsm.Command
		idx  []int
	)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		code, msg := int16(0), ""
		t := img.Topics[rt.Topic]
		switch {
		case count[rt.Topic] > 1:
			code, msg = kerr.InvalidRequest.Code, fmt.Sprintf("topic %q is listed more than once", rt.Topic)
		case t == nil:
			code = kerr.UnknownTopicOrPartition.Code
		case int(rt.Count) <= len(t.Partitions):
			code, msg = kerr.InvalidPartitions.Code, fmt.Sprintf("topic %q has %d partitions; the new count must be larger, got %d", rt.Topic, len(t.Partitions), rt.Count)
		case rt.Count > 1_000_000:
			code, msg = kerr.InvalidPartitions.Code, fmt.Sprintf("%d partitions is more than this broker accepts for one topic", rt.Count)
		}
		var replicas [][]int32
		if code == 0 {
			added := int(rt.Count) - len(t.Partitions)
			rf := len(t.Partitions[0].Replicas)
			if rt.Assignment != nil {
				replicas, msg = newPartitionAssignment(rt.Assignment, added, rf, brokers)
				if msg != "" {
					code = kerr.InvalidReplicaAssignment.Code
				}
			} else if rf > len(brokers) {
				code, msg = kerr.InvalidReplicationFactor.Code, fmt.Sprintf("replication factor %d is larger than the %d available brokers", rf, len(brokers))
			} else {
				replicas = assignReplicas(rt.Topic, brokers, int32(len(t.Partitions)), int32(added), int16(rf))
			}
		}
		st.ErrorCode, st.ErrorMessage = code, errMessage(code, msg)
		if code == 0 && !req.ValidateOnly {
			cmds = append(cmds, fsm.Command{CreatePartitions: &fsm.CreatePartitions{Topic: rt.Topic, Replicas: replicas}})
			idx = append(idx, len(resp.Topics))
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(cmds) > 0 {
		for i, res := range h.propose(ctx, cmds) {
			st := &resp.Topics[idx[i]]
			st.ErrorCode, st.ErrorMessage = res.Code, errMessage(res.Code, res.Message)
		}
	}
	return resp, nil
}

func newPartitionAssignment(in []kmsg.CreatePartitionsRequestTopicAssignment, added, rf int, brokers []int32) ([][]int32, string) {
	if len(in) != added {
		return nil, fmt.Sprintf("the assignment lists %d partitions but %d are being added", len(in), added)
	}
	out := make([][]int32, len(in))
	for i, a := range in {
		if len(a.Replicas) != rf {
			return nil, fmt.Sprintf("new partition %d has %d replicas; the topic's replication factor is %d", i, len(a.Replicas), rf)
		}
		for j, b := range a.Replicas {
			if !slices.Contains(brokers, b) {
				return nil, fmt.Sprintf("broker %d is not registered", b)
			}
			if slices.Contains(a.Replicas[:j], b) {
				return nil, fmt.Sprintf("broker %d listed twice", b)
			}
		}
		out[i] = a.Replicas
	}
	return out, ""
}
