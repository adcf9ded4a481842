package wire

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// Metadata v0-12.
//
// v0 asks for all topics with an empty list, v1+ with a null one. Topics that do not
// exist are auto-created (v0-3 always may, v4+ when AllowAutoTopicCreation is set) if
// auto.create.topics.enable is on; creation goes through Raft like CreateTopics, so the
// response already carries the new topic's leaders. Kafka's internal topics are never
// auto-created (see isInternalTopic). v10+ may name topics by id only.
func (h *Handlers) handleMetadata(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)

	allTopics := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	img := h.cluster.Image()
	if !allTopics {
		img = h.autoCreate(ctx, req, img)
	}

	for _, id := range brokerIDs(img) {
		b := img.Brokers[id]
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, b.Host, b.Port, rackOf(b)
		resp.Brokers = append(resp.Brokers, rb)
	}
	clusterID := img.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = h.cluster.Controller()
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = allClusterOperations
	}

	if allTopics {
		for _, name := range img.SortedTopicNames() {
			resp.Topics = append(resp.Topics, h.metadataTopic(req, img.Topics[name]))
		}
		return resp, nil
	}
	seen := map[string]bool{}
	for _, rt := range req.Topics {
		var t *metastore.Topic
		switch {
		case rt.Topic != nil:
			if seen[*rt.Topic] {
				continue
			}
			seen[*rt.Topic] = true
			t = img.Topics[*rt.Topic]
			if t == nil {
				resp.Topics = append(resp.Topics, h.missingTopic(*rt.Topic, rt.TopicID, req, img))
				continue
			}
		default:
			t = img.TopicByID(rt.TopicID)
			if t == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			if seen[t.Name] {
				continue
			}
			seen[t.Name] = true
		}
		resp.Topics = append(resp.Topics, h.metadataTopic(req, t))
	}
	return resp, nil
}

// autoCreate creates the requested topics that do not exist, when allowed, and returns
// the image to answer from.
func (h *Handlers) autoCreate(ctx context.Context, req *kmsg.MetadataRequest, img *metastore.Image) *metastore.Image {
	allowed := h.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	if !allowed {
		return img
	}
	var missing []string
	for _, rt := range req.Topics {
		if rt.Topic != nil && img.Topics[*rt.Topic] == nil && fsm.ValidateTopicName(*rt.Topic) == nil && !isInternalTopic(*rt.Topic) {
			missing = append(missing, *rt.Topic)
		}
	}
	if len(missing) == 0 {
		return img
	}
	if err := h.createDefaultTopics(ctx, missing); err != nil {
		h.log.Warn().Err(err).Strs("topics", missing).Msg("auto-create topics")
	}
	return h.cluster.Image()
}

// createDefaultTopics creates topics with the broker's default partition count and
// replication factor; topics that already exist by then are not an error.
func (h *Handlers) createDefaultTopics(ctx context.Context, names []string) error {
	img := h.cluster.Image()
	brokers := brokerIDs(img)
	rf := h.cfg.ReplicationFactor
	if int(rf) > len(brokers) {
		return errors.New("fewer brokers than default.replication.factor")
	}
	var cmds []fsm.Command
	for _, name := range names {
		cmds = append(cmds, fsm.Command{CreateTopic: &fsm.CreateTopic{
			Name: name, ID: metastore.NewUUID(),
			Replicas: assignReplicas(name, brokers, 0, h.cfg.NumPartitions, rf),
		}})
	}
	for _, res := range h.propose(ctx, cmds) {
		if !res.OK() && res.Code != kerr.TopicAlreadyExists.Code {
			return errors.New(res.Message)
		}
	}
	return nil
}

func (h *Handlers) missingTopic(name string, id [16]byte, req *kmsg.MetadataRequest, img *metastore.Image) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	mt.TopicID = id
	mt.IsInternal = isInternalTopic(name)
	switch {
	case fsm.ValidateTopicName(name) != nil:
		mt.ErrorCode = kerr.InvalidTopicException.Code
	case mt.IsInternal:
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code // never auto-created
	case h.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation):
		// Creation was attempted and did not land (yet): clients retry on this.
		mt.ErrorCode = kerr.LeaderNotAvailable.Code
	default:
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
	}
	return mt
}

func (h *Handlers) metadataTopic(req *kmsg.MetadataRequest, t *metastore.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(name) // one an older version let a client create
	if req.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = allTopicOperations
	}
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(t.Partitions))
	for i, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = []int32{}
		if p.Leader == -1 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions[i] = mp
	}
	return mt
}
