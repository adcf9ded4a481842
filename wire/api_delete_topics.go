package wire

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// DeleteTopics v0-6: by name (v0-5 TopicNames; v6 Topics) or by id (v6). Each existing
// topic becomes a DeleteTopic command; they go through Raft as one entry.
func (h *Handlers) handleDeleteTopics(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	img := h.cluster.Image()

	targets := req.Topics
	if req.Version < 6 {
		for _, name := range req.TopicNames {
			n := name
			targets = append(targets, kmsg.DeleteTopicsRequestTopic{Topic: &n})
		}
	}
	// A topic named more than once (by name, by id, or both) is refused wherever it
	// appears and not deleted, as Kafka's ControllerApis.deleteTopics refuses it.
	named := map[string]int{}
	for _, t := range targets {
		if (t.Topic == nil) != (t.TopicID == [16]byte{}) { // exactly one of them: the others are refused anyway
			named[deleteTarget(img, t)]++
		}
	}
	var (
		cmds []fsm.Command
		idx  []int
	)
	for _, t := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = t.Topic, t.TopicID
		var topic *metastore.Topic
		switch {
		case t.Topic != nil && t.TopicID != [16]byte{}:
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = errMessage(st.ErrorCode, "give a topic name or a topic id, not both")
		case t.Topic == nil && t.TopicID == [16]byte{}:
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = errMessage(st.ErrorCode, "neither a topic name nor a topic id was given")
		case named[deleteTarget(img, t)] > 1:
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = errMessage(st.ErrorCode, "the topic is named more than once in the request")
		case t.Topic != nil:
			if topic = img.Topics[*t.Topic]; topic == nil {
				st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
		default:
			if topic = img.TopicByID(t.TopicID); topic == nil {
				st.ErrorCode = kerr.UnknownTopicID.Code
			}
		}
		if topic != nil {
			name := topic.Name
			st.Topic, st.TopicID = &name, topic.ID
			cmds = append(cmds, fsm.Command{DeleteTopic: &fsm.DeleteTopic{Name: name}})
			idx = append(idx, len(resp.Topics))
		}
		if st.ErrorCode != 0 && st.ErrorMessage == nil && req.Version >= 5 {
			st.ErrorMessage = errMessage(st.ErrorCode, "")
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(cmds) > 0 {
		for i, res := range h.propose(ctx, cmds) {
			st := &resp.Topics[idx[i]]
			st.ErrorCode = res.Code
			if req.Version >= 5 {
				st.ErrorMessage = errMessage(res.Code, res.Message)
			}
		}
	}
	return resp, nil
}

// deleteTarget names the topic a DeleteTopics entry means: the topic's name when it is
// given or its id is known, else the unknown id.
func deleteTarget(img *metastore.Image, t kmsg.DeleteTopicsRequestTopic) string {
	switch {
	case t.Topic != nil:
		return "name " + *t.Topic
	case img.TopicByID(t.TopicID) != nil:
		return "name " + img.TopicByID(t.TopicID).Name
	}
	return fmt.Sprintf("id %x", t.TopicID)
}
