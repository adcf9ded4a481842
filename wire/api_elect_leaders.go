package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
)

// ElectLeaders v0-2 (kafka-leader-election, Admin.electLeaders). Leaders are chosen by
// the metadata (on one node, the node leads every partition), so no election ever runs
// here: a partition led by its preferred replica answers ELECTION_NOT_NEEDED; one with
// no leader answers that none is available. Asked for every partition (topics null), the
// answer leaves out those that need no election, as Kafka's controller does.
func (h *Handlers) handleElectLeaders(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	img := h.cluster.Image()
	unclean := req.Version >= 1 && req.ElectionType == 1
	if req.Version >= 1 && req.ElectionType != 0 && req.ElectionType != 1 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	answer := func(topic string, partition int32, code int16, msg string) {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != topic {
			t := kmsg.NewElectLeadersResponseTopic()
			t.Topic = topic
			resp.Topics = append(resp.Topics, t)
		}
		p := kmsg.NewElectLeadersResponseTopicPartition()
		p.Partition, p.ErrorCode, p.ErrorMessage = partition, code, errMessage(code, msg)
		t := &resp.Topics[len(resp.Topics)-1]
		t.Partitions = append(t.Partitions, p)
	}
	if req.Topics == nil {
		for _, name := range img.SortedTopicNames() {
			for i, p := range img.Topics[name].Partitions {
				if code, msg := electionOutcome(p, unclean); code != kerr.ElectionNotNeeded.Code {
					answer(name, int32(i), code, msg)
				}
			}
		}
		return resp, nil
	}
	for _, rt := range req.Topics {
		t := img.Topics[rt.Topic]
		for _, partition := range rt.Partitions {
			if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
				answer(rt.Topic, partition, kerr.UnknownTopicOrPartition.Code, "")
				continue
			}
			code, msg := electionOutcome(t.Partitions[partition], unclean)
			answer(rt.Topic, partition, code, msg)
		}
	}
	return resp, nil
}

// electionOutcome is what an election of p would come to without moving any leader.
func electionOutcome(p metastore.Partition, unclean bool) (int16, string) {
	switch {
	case p.Leader >= 0 && (unclean || len(p.Replicas) > 0 && p.Leader == p.Replicas[0]):
		return kerr.ElectionNotNeeded.Code, "the partition already has its leader"
	case unclean:
		return kerr.EligibleLeadersNotAvailable.Code, "no live replica can lead the partition"
	default:
		return kerr.PreferredLeaderNotAvailable.Code, "the preferred replica cannot take over the partition"
	}
}
