package wire

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/metastore/configs"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// Cluster is what the request handlers need from the node: the applied metadata, a way to
// change it through Raft, who the Raft leader (Kafka's "controller") is, and the
// partition actors of the data path. *actors.Node implements it.
type Cluster interface {
	Image() *metastore.Image
	Propose(ctx context.Context, cmds ...fsm.Command) ([]fsm.Result, error)
	Controller() int32

	Produce(tp actors.TopicPartition, r *actors.ProduceRequest)
	Fetch(tp actors.TopicPartition, r *actors.FetchRequest)
	Watch(tp actors.TopicPartition, r *actors.WatchRequest)
	ListOffsets(tp actors.TopicPartition, r *actors.ListOffsetsRequest)
	DeleteRecords(tp actors.TopicPartition, r *actors.DeleteRecordsRequest)
	EpochEnd(tp actors.TopicPartition, r *actors.EpochEndRequest)
	DescribeProducers(tp actors.TopicPartition, r *actors.DescribeProducersRequest)
	AllocateProducerID(ctx context.Context) (int64, error)
	PartitionViews() []actors.PartitionView // the partition replicas this node hosts, sorted

	GroupCoordinator // consumer groups (groups.go)
}

// BrokerConfig is the static broker configuration the handlers apply.
type BrokerConfig struct {
	NodeID            int32
	NumPartitions     int32
	ReplicationFactor int16
	AutoCreateTopics  bool
	LogDir            string // absolute path of the directory holding the partition logs
	// Static is the node's configuration by key, as DescribeConfigs shows it for the
	// broker resource; StaticSet marks the keys set in the config file.
	Static    map[string]string
	StaticSet map[string]bool
	// StaticInfo gives each static key's type and documentation.
	StaticInfo map[string]configs.KeyInfo
	// FetchSessionSlots is how many incremental fetch sessions the node keeps (Kafka's
	// max.incremental.fetch.session.cache.slots): 0 means Kafka's default, 1000; a
	// negative number turns sessions off.
	FetchSessionSlots int
	// FetchSessionMemory bounds what all fetch sessions' partitions hold together (see
	// sessionPartitionBytes); 0 leaves the default bound of maxSessionPartitions.
	FetchSessionMemory int64
}

// Handlers serves the Kafka APIs. One handler per API key lives in its own api_*.go file
// and declares the version range it serves in APIs.
type Handlers struct {
	cluster Cluster
	cfg     BrokerConfig
	log     zerolog.Logger
	data    DataObserver // see ObserveData

	partitionReadTimeout time.Duration // see defaultPartitionReadTimeout
	sessions             *fetchSessions
}

// NewHandlers builds the handlers over a cluster.
func NewHandlers(c Cluster, cfg BrokerConfig, log zerolog.Logger) *Handlers {
	return &Handlers{cluster: c, cfg: cfg, log: log, data: nopDataObserver{}, partitionReadTimeout: defaultPartitionReadTimeout,
		sessions: newFetchSessions(cfg.FetchSessionSlots, sessionPartitionsFor(cfg.FetchSessionMemory))}
}

// FetchSessions returns how many incremental fetch sessions the node keeps and how many
// partitions they hold (for metrics).
func (h *Handlers) FetchSessions() (sessions, partitions int) { return h.sessions.stats() }

// APIs lists every API served with its version range; ApiVersions is derived from it.
func (h *Handlers) APIs() []API {
	return []API{
		{Key: 0, MinVersion: 0, MaxVersion: 13, Begin: h.beginProduce},
		{Key: 1, MinVersion: 4, MaxVersion: 17, Handle: h.handleFetch, Error: fetchErrorResponse},
		{Key: 2, MinVersion: 0, MaxVersion: 10, Handle: h.handleListOffsets},
		{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: h.handleMetadata, LargeAnswers: true},
		{Key: 21, MinVersion: 0, MaxVersion: 2, Handle: h.handleDeleteRecords, InOrder: true},
		{Key: 22, MinVersion: 0, MaxVersion: 5, Handle: h.handleInitProducerID},
		{Key: 23, MinVersion: 0, MaxVersion: 4, Handle: h.handleOffsetForLeaderEpoch},
		{Key: 19, MinVersion: 0, MaxVersion: 7, Handle: h.handleCreateTopics, InOrder: true},
		{Key: 20, MinVersion: 0, MaxVersion: 6, Handle: h.handleDeleteTopics, InOrder: true},
		{Key: 32, MinVersion: 0, MaxVersion: 4, Handle: h.handleDescribeConfigs, LargeAnswers: true},
		{Key: 33, MinVersion: 0, MaxVersion: 2, Handle: h.handleAlterConfigs, InOrder: true},
		{Key: 37, MinVersion: 0, MaxVersion: 3, Handle: h.handleCreatePartitions, InOrder: true},
		{Key: 44, MinVersion: 0, MaxVersion: 1, Handle: h.handleIncrementalAlterConfigs, InOrder: true},
		{Key: 60, MinVersion: 0, MaxVersion: 2, Handle: h.handleDescribeCluster},
		{Key: 29, MinVersion: 0, MaxVersion: 3, Handle: h.handleDescribeAcls},
		{Key: 30, MinVersion: 0, MaxVersion: 3, Handle: h.handleCreateAcls},
		{Key: 31, MinVersion: 0, MaxVersion: 3, Handle: h.handleDeleteAcls},
		{Key: 35, MinVersion: 0, MaxVersion: 4, Handle: h.handleDescribeLogDirs, LargeAnswers: true},
		{Key: 43, MinVersion: 0, MaxVersion: 2, Handle: h.handleElectLeaders},
		{Key: 46, MinVersion: 0, MaxVersion: 0, Handle: h.handleListPartitionReassignments},
		{Key: 61, MinVersion: 0, MaxVersion: 0, Handle: h.handleDescribeProducers, LargeAnswers: true},
		{Key: 17, MinVersion: 0, MaxVersion: 1, Handle: h.handleSaslHandshake},
		{Key: 36, MinVersion: 0, MaxVersion: 2, Handle: h.handleSaslAuthenticate},
		{Key: 48, MinVersion: 0, MaxVersion: 1, Handle: h.handleDescribeClientQuotas},
		{Key: 50, MinVersion: 0, MaxVersion: 0, Handle: h.handleDescribeUserScramCredentials},
		{Key: 65, MinVersion: 0, MaxVersion: 0, Handle: h.handleDescribeTransactions},
		{Key: 66, MinVersion: 0, MaxVersion: 1, Handle: h.handleListTransactions},

		// Consumer groups.
		{Key: 8, MinVersion: 0, MaxVersion: 10, Handle: h.handleOffsetCommit, InOrder: true},
		{Key: 9, MinVersion: 0, MaxVersion: 10, Handle: h.handleOffsetFetch, LargeAnswers: true},
		{Key: 10, MinVersion: 0, MaxVersion: 6, Handle: h.handleFindCoordinator},
		{Key: 11, MinVersion: 0, MaxVersion: 9, Handle: h.handleJoinGroup},
		{Key: 12, MinVersion: 0, MaxVersion: 4, Handle: h.handleHeartbeat},
		{Key: 13, MinVersion: 0, MaxVersion: 5, Handle: h.handleLeaveGroup},
		{Key: 14, MinVersion: 0, MaxVersion: 5, Handle: h.handleSyncGroup},
		{Key: 15, MinVersion: 0, MaxVersion: 6, Handle: h.handleDescribeGroups, LargeAnswers: true},
		{Key: 16, MinVersion: 0, MaxVersion: 5, Handle: h.handleListGroups, LargeAnswers: true},
		{Key: 42, MinVersion: 0, MaxVersion: 3, Handle: h.handleDeleteGroups, InOrder: true},
		{Key: 47, MinVersion: 0, MaxVersion: 0, Handle: h.handleOffsetDelete, InOrder: true},
	}
}

// brokerConfigs is the broker-side input to topic config resolution.
func (h *Handlers) brokerConfigs(img *metastore.Image) *configs.Broker {
	return &configs.Broker{
		ID:          h.cfg.NodeID,
		Static:      h.cfg.Static,
		StaticSet:   h.cfg.StaticSet,
		ClusterWide: img.BrokerConfigs[""],
		ThisBroker:  img.BrokerConfigs[strconv.Itoa(int(h.cfg.NodeID))],
	}
}

// propose runs commands through Raft and maps a failure to apply anything to the Kafka
// error every command gets.
func (h *Handlers) propose(ctx context.Context, cmds []fsm.Command) []fsm.Result {
	res, err := h.cluster.Propose(ctx, cmds...)
	if err == nil {
		return res
	}
	code := kerr.RequestTimedOut.Code
	var pe interface{ KafkaCode() int16 }
	if errors.As(err, &pe) {
		code = pe.KafkaCode()
	}
	h.log.Warn().Err(err).Int("commands", len(cmds)).Msg("metadata change not applied")
	out := make([]fsm.Result, len(cmds))
	for i := range out {
		out[i] = fsm.Result{Code: code, Message: err.Error()}
	}
	return out
}

// assignReplicas spreads partitions over the registered brokers like Kafka's rack-unaware
// assignment: partition p's replicas are consecutive brokers starting at (start+p), where
// start depends on the topic name so topics do not all lead on the same broker.
func assignReplicas(topic string, brokers []int32, first, partitions int32, rf int16) [][]int32 {
	slices.Sort(brokers)
	hash := fnv.New32a()
	hash.Write([]byte(topic))
	start := int(hash.Sum32() % uint32(len(brokers)))
	out := make([][]int32, partitions)
	for i := range out {
		p := int(first) + i
		replicas := make([]int32, rf)
		for r := range replicas {
			replicas[r] = brokers[(start+p+r)%len(brokers)]
		}
		out[i] = replicas
	}
	return out
}

// rackOf is a broker's rack as Kafka sends it: null when unset.
func rackOf(b metastore.Broker) *string {
	if b.Rack == "" {
		return nil
	}
	r := b.Rack
	return &r
}

func brokerIDs(img *metastore.Image) []int32 {
	ids := make([]int32, 0, len(img.Brokers))
	for id := range img.Brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// errMessage returns a Kafka error message pointer, nil for success.
func errMessage(code int16, msg string) *string {
	if code == 0 {
		return nil
	}
	if msg == "" {
		if e := kerr.ErrorForCode(code); e != nil {
			if ke, ok := e.(*kerr.Error); ok {
				msg = ke.Message
			}
		}
	}
	return &msg
}

// allTopicOperations is the authorized-operations bitfield for a topic when nothing is
// denied (no ACLs): READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS,
// ALTER_CONFIGS.
const allTopicOperations = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11

// allClusterOperations: CREATE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
// IDEMPOTENT_WRITE, ALTER, DESCRIBE.
const allClusterOperations = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12

// topicName resolves a topic named directly or, where the request version names topics
// by id (byID: Produce and Fetch v13+), by id; there a zero id is an unknown one, as in
// Kafka (UNKNOWN_TOPIC_ID), not a topic with no name.
func topicName(img *metastore.Image, name string, id [16]byte, byID bool) (string, bool) {
	if byID || id != [16]byte{} {
		t := img.TopicByID(id)
		if t == nil {
			return "", false
		}
		return t.Name, true
	}
	return name, true
}

// collect waits for n partition replies, handing each to apply, for at most timeout.
func collect[R any](ctx context.Context, replies <-chan R, n int, timeout time.Duration, apply func(R)) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for range n {
		select {
		case r := <-replies:
			apply(r)
		case <-timer.C:
			return context.DeadlineExceeded
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
