package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/actors/groups"
)

// OffsetCommit v0-10. Offsets are acknowledged once they are applied through Raft to the
// metadata store (they survive kill -9). Generation -1 without a member id is a
// standalone commit, accepted while the group has no members (v0 always is one). v1
// carries a commit time per partition, v2-v4 a retention; v10 names topics by id.
func (h *Handlers) handleOffsetCommit(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	cr := &actors.OffsetCommitRequest{
		Group:       req.Group,
		Member:      groups.MemberRef{MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation},
		RetentionMs: -1, MissingGroupCode: kerr.IllegalGeneration.Code,
		// The connection's next commit may start once this one is queued for Raft:
		// queued in order, they are applied in order (OffsetCommit is InOrder).
		Sequenced: r.Sequenced,
	}
	if req.Version == 0 {
		cr.Member.Generation = -1
	}
	if req.Version >= 2 && req.Version <= 4 {
		cr.RetentionMs = req.RetentionTimeMillis
	}
	if req.Version >= 9 {
		cr.MissingGroupCode = kerr.GroupIDNotFound.Code
	}
	img := h.cluster.Image()
	// slots[i] is where the code of cr.Offsets[i] goes.
	var slots []*kmsg.OffsetCommitResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, known := rt.Topic, true
		if req.Version >= 10 {
			name, known = topicByID(img, rt.TopicID)
		}
		st.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			if !known {
				sp.ErrorCode = kerr.UnknownTopicID.Code
				continue
			}
			e := actors.OffsetCommitEntry{
				Topic: name, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: -1,
				Metadata: rp.Metadata, CommitTimestampMs: -1,
			}
			if req.Version >= 6 {
				e.LeaderEpoch = rp.LeaderEpoch
			}
			if req.Version == 1 {
				e.CommitTimestampMs = rp.Timestamp
			}
			cr.Offsets = append(cr.Offsets, e)
			slots = append(slots, sp)
		}
	}
	if len(cr.Offsets) == 0 {
		return resp, nil
	}
	for i, code := range h.cluster.CommitOffsets(ctx, cr) {
		slots[i].ErrorCode = code
	}
	return resp, nil
}
