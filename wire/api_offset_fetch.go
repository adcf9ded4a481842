package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
)

// OffsetFetch v0-10: a group's committed offsets, -1 for partitions without one (a group
// that does not exist has none). v2+ fetches every committed partition when no topics
// are named; v8+ asks for several groups; v10 names topics by id. RequireStable needs no
// waiting: without transactions no commit is ever pending.
func (h *Handlers) handleOffsetFetch(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	img := h.cluster.Image()
	if req.Version < 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = req.Group
		if req.Topics != nil {
			rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
		}
		for _, t := range req.Topics {
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = t.Topic, t.Partitions
			rg.Topics = append(rg.Topics, gt)
		}
		g := h.fetchGroupOffsets(ctx, img, req.Version, rg)
		if req.Version >= 2 {
			resp.ErrorCode = g.ErrorCode
		}
		for _, t := range g.Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata, sp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				if req.Version < 2 && g.ErrorCode != 0 {
					sp.ErrorCode = g.ErrorCode // v0-1 have no group-level error
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	for _, rg := range req.Groups {
		resp.Groups = append(resp.Groups, h.fetchGroupOffsets(ctx, img, req.Version, rg))
	}
	return resp, nil
}

func (h *Handlers) fetchGroupOffsets(ctx context.Context, img *metastore.Image, version int16, rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
	g := kmsg.NewOffsetFetchResponseGroup()
	g.Group = rg.Group
	offsets, code := h.cluster.FetchOffsets(ctx, rg.Group)
	if code != 0 {
		g.ErrorCode = code
		// Name the asked-for partitions so clients without a group-level error see it.
		for _, rt := range rg.Topics {
			t := kmsg.NewOffsetFetchResponseGroupTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, p := range rt.Partitions {
				t.Partitions = append(t.Partitions, fetchedPartition(p, nil, code))
			}
			g.Topics = append(g.Topics, t)
		}
		return g
	}
	if rg.Topics == nil { // every committed partition; offsets come sorted by topic
		for i := range offsets {
			o := &offsets[i]
			if len(g.Topics) == 0 || g.Topics[len(g.Topics)-1].Topic != o.Topic {
				t := kmsg.NewOffsetFetchResponseGroupTopic()
				t.Topic = o.Topic
				if tp := img.Topics[o.Topic]; tp != nil && version >= 10 {
					t.TopicID = tp.ID
				}
				g.Topics = append(g.Topics, t)
			}
			t := &g.Topics[len(g.Topics)-1]
			t.Partitions = append(t.Partitions, fetchedPartition(o.Partition, o, 0))
		}
		return g
	}
	byTopic := map[string]map[int32]*metastore.CommittedOffset{}
	for i := range offsets {
		o := &offsets[i]
		if byTopic[o.Topic] == nil {
			byTopic[o.Topic] = map[int32]*metastore.CommittedOffset{}
		}
		byTopic[o.Topic][o.Partition] = o
	}
	for _, rt := range rg.Topics {
		t := kmsg.NewOffsetFetchResponseGroupTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		name, known := rt.Topic, true
		if version >= 10 {
			name, known = topicByID(img, rt.TopicID)
		}
		for _, p := range rt.Partitions {
			if !known {
				t.Partitions = append(t.Partitions, fetchedPartition(p, nil, kerr.UnknownTopicID.Code))
			} else {
				t.Partitions = append(t.Partitions, fetchedPartition(p, byTopic[name][p], 0))
			}
		}
		g.Topics = append(g.Topics, t)
	}
	return g
}

// fetchedPartition is one partition's answer: its committed offset, or -1 without one.
func fetchedPartition(p int32, o *metastore.CommittedOffset, code int16) kmsg.OffsetFetchResponseGroupTopicPartition {
	sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
	sp.Partition, sp.ErrorCode, sp.Offset, sp.LeaderEpoch = p, code, -1, -1
	md := ""
	if o != nil {
		sp.Offset, sp.LeaderEpoch, md = o.Offset, o.LeaderEpoch, o.Metadata
	}
	sp.Metadata = &md
	return sp
}
