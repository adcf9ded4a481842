package actors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/metastore"
)

// DataOptions configure the data path: where partition logs live, the fsync policy and
// the static broker config topic defaults come from.
type DataOptions struct {
	Dir                    string
	FlushAlways            bool          // log.flush.policy = always
	FlushInterval          time.Duration // log.flush.interval.ms under the interval policy
	RetentionCheckInterval time.Duration
	CleanerBackoff         time.Duration // log.cleaner.backoff.ms; 0 means Kafka's 15 s
	StaticConfig           map[string]string
	StaticSet              map[string]bool
	// CheckMemory bounds what produces hold of compressed batches' decompressed records
	// at once (one slot of up to checkInflateLimit each, at least one, at most two per
	// CPU); 0 means two slots per CPU.
	CheckMemory int64
	// SealedSegmentFiles bounds how many sealed segments' data files all partitions keep
	// open at once (idle ones beyond it are closed, and reopened when read), so that
	// segments never exhaust the process's file descriptors; 0 means no bound.
	SealedSegmentFiles int
	// IndexMemory bounds the memory sealed segments' indexes take across all partitions
	// (beyond it the least recently used are read back from their files when needed);
	// 0 means no bound.
	IndexMemory int64
}

// partitionRouter maps partitions to their actors for request handlers on any goroutine,
// so routing a request never waits on an actor's mailbox. Each entry names the topic id
// its actor serves: a topic deleted and created again under the same name keeps its
// partitions' entries until the manager has stopped their actors, one after the other,
// and a request must not reach the deleted topic's log meanwhile.
type partitionRouter struct {
	mu sync.RWMutex
	m  map[TopicPartition]routeEntry
}

type routeEntry struct {
	pid     *actor.PID
	topicID metastore.UUID
}

// get returns the actor of tp if it serves topic id; nil otherwise.
func (r *partitionRouter) get(tp TopicPartition, topicID metastore.UUID) *actor.PID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.m[tp]; ok && e.topicID == topicID {
		return e.pid
	}
	return nil
}

func (r *partitionRouter) set(tp TopicPartition, pid *actor.PID, topicID metastore.UUID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pid == nil {
		delete(r.m, tp)
	} else {
		r.m[tp] = routeEntry{pid: pid, topicID: topicID}
	}
}

// partitionManager starts partition actors on first use (and at start for partitions
// with data on disk), stops them when their topic goes, and fans out periodic ticks and
// metadata changes to them.
type partitionManager struct {
	n   *Node
	log zerolog.Logger

	children map[TopicPartition]child
	// strays are partition directories found at start whose topic the image did not
	// hold before the metadata had caught up with the Raft log; they are judged again
	// once it has (see strayCheck).
	strays        []TopicPartition
	brokerConfigs map[string]map[string]string
	lastRetention time.Time
	cancelTick    func()
}

// child is a running partition actor and the id of the topic it serves.
type child struct {
	pid     *actor.PID
	topicID metastore.UUID
}

type (
	ensurePartition struct {
		tp    TopicPartition
		reply chan *actor.PID
	}
	imageChanged struct {
		img     *metastore.Image
		changed []string
	}
	managerTick struct{}
)

func newPartitionManager(n *Node) actor.Producer {
	return func() actor.Actor {
		return &partitionManager{n: n, log: n.log.With().Str("actor", "partitions").Logger()}
	}
}

func (m *partitionManager) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.children = map[TopicPartition]child{}
		m.lastRetention = time.Now()
		img := m.n.Image()
		m.brokerConfigs = img.BrokerConfigs
		// A restarted manager finds its children still running (they are not restarted
		// with it); re-adopt them so none is started twice.
		for _, pid := range ctx.Children() {
			if tp, ok := parsePartitionName(pid.Id[strings.LastIndex(pid.Id, "/")+1:]); ok {
				c := child{pid: pid}
				if t := img.Topics[tp.Topic]; t != nil {
					c.topicID = t.ID
				}
				m.children[tp] = c
			}
		}
		m.openExisting(ctx, img)
		interval := m.n.opts.Data.FlushInterval
		if m.n.opts.Data.FlushAlways || interval <= 0 || interval > time.Second {
			interval = time.Second
		}
		m.cancelTick = m.n.scheduleRepeatedly(interval, ctx.Self(), &managerTick{})
	case *actor.Stopping, *actor.Restarting:
		if m.cancelTick != nil {
			m.cancelTick()
		}
	case *ensurePartition:
		msg.reply <- m.ensure(ctx, msg.tp)
	case *imageChanged:
		m.apply(ctx, msg.img, msg.changed)
		m.strayCheck(ctx)
	case *managerTick:
		now := time.Now()
		tick := &partitionTick{now: now}
		if now.Sub(m.lastRetention) >= m.n.opts.Data.RetentionCheckInterval {
			m.lastRetention = now
			tick.retention = true
		}
		for _, c := range m.children {
			ctx.Send(c.pid, tick)
		}
	}
}

// ensure returns the partition's actor, starting it if this node hosts the partition.
func (m *partitionManager) ensure(ctx actor.Context, tp TopicPartition) *actor.PID {
	t := m.n.Image().Topics[tp.Topic]
	if c, ok := m.children[tp]; ok {
		if t != nil && t.ID == c.topicID {
			return c.pid
		}
		// Its topic was deleted (and maybe created again) in an image this manager has
		// not applied yet: do apply's work for this partition now rather than hand out
		// the deleted topic's actor.
		m.stop(ctx, tp, c.pid)
	}
	if t == nil || int(tp.Partition) >= len(t.Partitions) || !slices.Contains(t.Partitions[tp.Partition].Replicas, int32(m.n.opts.NodeID)) {
		return nil
	}
	pid, err := m.n.sp.spawn(ctx, "partition", tp.String(), newPartitionActor(m.n, tp))
	if err != nil {
		m.log.Error().Err(err).Str("partition", tp.String()).Msg("start partition actor")
		return nil
	}
	m.children[tp] = child{pid: pid, topicID: t.ID}
	m.n.router.set(tp, pid, t.ID)
	return pid
}

// openExisting starts actors for partitions with data on disk, so their logs are
// recovered and retention runs without waiting for a client, and removes directories of
// topics that no longer exist.
func (m *partitionManager) openExisting(ctx actor.Context, img *metastore.Image) {
	m.n.trash.sweep(m.n.opts.Data.Dir)
	entries, err := os.ReadDir(m.n.opts.Data.Dir)
	if err != nil {
		if !os.IsNotExist(err) {
			m.log.Warn().Err(err).Msg("list partition directories")
		}
		return
	}
	for _, e := range entries {
		tp, ok := parsePartitionName(e.Name())
		if !e.IsDir() || !ok {
			continue
		}
		if m.ensure(ctx, tp) == nil {
			m.strays = append(m.strays, tp)
		}
	}
	if len(m.strays) > 0 && !m.n.metadataCaughtUp() {
		m.log.Info().Int("directories", len(m.strays)).Uint64("applied_index", img.Index).Uint64("replay_to", m.n.replayTo).
			Msg("partition directories of unknown topics are kept until the metadata has caught up with the raft log")
	}
	m.strayCheck(ctx)
}

// strayCheck removes the partition directories found at start whose topic or partition
// does not exist, once the metadata has caught up with the Raft log. Before that, a topic
// the log is about to replay (the whole log, when meta.db was lost) looks deleted, and
// its data went with it.
//
// A node whose metadata store was new at start (Bootstrap mode "fresh") knows no topic at
// all: directories it finds belonged to metadata that was lost (meta.db, with the Raft
// log in memory or lost too), not to deleted topics. They are kept, renamed aside as
// Kafka's LogManager renames a log its metadata does not know ("-stray"), so that a topic
// created again under the same name starts empty instead of taking up records, offsets
// and leader epochs of a topic nobody remembers.
func (m *partitionManager) strayCheck(ctx actor.Context) {
	if len(m.strays) == 0 || !m.n.metadataCaughtUp() {
		return
	}
	if m.n.bootstrap.Mode == "fresh" {
		m.keepStrays(ctx)
		return
	}
	for _, tp := range m.strays {
		if m.ensure(ctx, tp) == nil {
			m.removeDir(tp, "its topic or partition no longer exists here")
		}
	}
	m.strays = nil
}

// keepStrays renames the partition directories of unknown topics aside (strayName) and
// says where they went.
func (m *partitionManager) keepStrays(ctx actor.Context) {
	var kept []string
	for _, tp := range m.strays {
		if m.ensure(ctx, tp) != nil { // a topic created under this name in the meantime
			continue
		}
		dir := filepath.Join(m.n.opts.Data.Dir, tp.String())
		aside := strayName(dir, time.Now())
		if err := os.Rename(dir, aside); err != nil {
			m.log.Error().Err(err).Str("partition", tp.String()).Msg("rename the directory of an unknown topic's partition aside; it stays in place")
			continue
		}
		kept = append(kept, filepath.Base(aside))
	}
	if len(kept) > 0 {
		m.log.Warn().Strs("kept", kept).Str("dir", m.n.opts.Data.Dir).
			Msg("partition directories kept aside as strays: the metadata store is new, so their topics are unknown (was meta.db lost?); remove them to free the space")
	}
	m.strays = nil
}

// apply reacts to applied metadata: partitions of deleted (or re-created) topics stop and
// their data is removed; the rest learn about leadership and config changes.
func (m *partitionManager) apply(ctx actor.Context, img *metastore.Image, changed []string) {
	// Judge by the newest image: ensure may already have started the actor of a topic
	// created again after this change, which img (older) would take for deleted.
	img = m.n.Image()
	refreshAll := reflect.ValueOf(img.BrokerConfigs).UnsafePointer() != reflect.ValueOf(m.brokerConfigs).UnsafePointer()
	m.brokerConfigs = img.BrokerConfigs
	touched := map[string]bool{}
	for _, name := range changed {
		touched[name] = true
	}
	refresh := &partitionRefresh{img: img}
	for tp, c := range m.children {
		if !refreshAll && !touched[tp.Topic] {
			continue
		}
		// Gone, moved away from this node, or deleted and created again under the same
		// name (a new topic id): the actor stops and its data goes.
		t := img.Topics[tp.Topic]
		if t == nil || t.ID != c.topicID || int(tp.Partition) >= len(t.Partitions) || !slices.Contains(t.Partitions[tp.Partition].Replicas, int32(m.n.opts.NodeID)) {
			m.stop(ctx, tp, c.pid)
			continue
		}
		ctx.Send(c.pid, refresh)
	}
}

// stop stops a partition's actor, waiting for it to close its log, and deletes its data.
func (m *partitionManager) stop(ctx actor.Context, tp TopicPartition, pid *actor.PID) {
	m.n.router.set(tp, nil, metastore.UUID{})
	delete(m.children, tp)
	if err := ctx.PoisonFuture(pid).Wait(); err != nil {
		m.log.Warn().Err(err).Str("partition", tp.String()).Msg("stop partition actor")
	}
	m.n.fences.lift(tp)
	m.removeDir(tp, "its topic was deleted")
}

func (m *partitionManager) removeDir(tp TopicPartition, why string) {
	dir := filepath.Join(m.n.opts.Data.Dir, tp.String())
	if err := m.n.trash.discard(dir, why); err != nil {
		m.log.Error().Err(err).Str("partition", tp.String()).Msg("remove partition data")
		return
	}
	m.log.Info().Str("partition", tp.String()).Str("why", why).Msg("partition data moved aside for deletion")
}

// parsePartitionName splits "<topic>-<partition>" (topic names may contain '-').
func parsePartitionName(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return TopicPartition{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, true
}

// partitionPID finds (starting if needed) the actor of a partition this node hosts, or
// returns the Kafka error a request for it gets.
func (n *Node) partitionPID(tp TopicPartition) (*actor.PID, int16) {
	t := n.Image().Topics[tp.Topic]
	if t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	// Only an actor of this very topic: one of a deleted topic of the same name may
	// still run (see partitionRouter); the manager stops it before starting the new one.
	if pid := n.router.get(tp, t.ID); pid != nil {
		return pid, 0
	}
	if !slices.Contains(t.Partitions[tp.Partition].Replicas, int32(n.opts.NodeID)) {
		return nil, kerr.NotLeaderForPartition.Code
	}
	reply := make(chan *actor.PID, 1)
	n.root.Send(n.pids.partitions, &ensurePartition{tp: tp, reply: reply})
	select {
	case pid := <-reply:
		if pid == nil {
			return nil, kerr.UnknownTopicOrPartition.Code
		}
		return pid, 0
	case <-time.After(10 * time.Second):
		return nil, kerr.RequestTimedOut.Code
	}
}

// route sends msg to the partition's actor, or answers at once with the error a request
// for that partition gets (unknown partition, not hosted here).
func route[R any](n *Node, tp TopicPartition, msg any, reply chan<- R, failed func(code int16) R) {
	if pid, code := n.partitionPID(tp); code != 0 {
		reply <- failed(code)
	} else {
		n.root.Send(pid, msg)
	}
}

// Produce routes a produce request to its partition; the reply arrives on r.Reply.
func (n *Node) Produce(tp TopicPartition, r *ProduceRequest) {
	route(n, tp, r, r.Reply, func(code int16) ProduceReply {
		return ProduceReply{Index: r.Index, Code: code, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	})
}

// Fetch routes a fetch to its partition; the reply arrives on r.Reply.
func (n *Node) Fetch(tp TopicPartition, r *FetchRequest) {
	route(n, tp, r, r.Reply, func(code int16) FetchReply {
		return FetchReply{Index: r.Index, Code: code, HighWatermark: -1, LogStartOffset: -1, LeaderEpoch: -1}
	})
}

// Watch parks a long-polling fetch on a partition until its high watermark passes
// r.Offset; a partition that cannot be served notifies at once.
func (n *Node) Watch(tp TopicPartition, r *WatchRequest) {
	if pid, code := n.partitionPID(tp); code != 0 {
		notify(r.Notify)
	} else {
		n.root.Send(pid, r)
	}
}

// ListOffsets routes an offset lookup to its partition.
func (n *Node) ListOffsets(tp TopicPartition, r *ListOffsetsRequest) {
	route(n, tp, r, r.Reply, func(code int16) ListOffsetsReply {
		return ListOffsetsReply{Index: r.Index, Code: code, Offset: -1, Timestamp: -1, LeaderEpoch: -1}
	})
}

// DeleteRecords routes a DeleteRecords request to its partition.
func (n *Node) DeleteRecords(tp TopicPartition, r *DeleteRecordsRequest) {
	route(n, tp, r, r.Reply, func(code int16) DeleteRecordsReply {
		return DeleteRecordsReply{Index: r.Index, Code: code, LowWatermark: -1}
	})
}

// EpochEnd routes an OffsetForLeaderEpoch lookup to its partition.
func (n *Node) EpochEnd(tp TopicPartition, r *EpochEndRequest) {
	route(n, tp, r, r.Reply, func(code int16) EpochEndReply {
		return EpochEndReply{Index: r.Index, Code: code, LeaderEpoch: -1, EndOffset: -1}
	})
}

// producerIDs hands out producer ids from blocks allocated through Raft, so an
// InitProducerId costs a Raft round only once per block.
type producerIDs struct {
	mu         sync.Mutex
	next, last int64 // next id to hand out; last id of the block (inclusive)
}

const producerIDBlock = 1000

// AllocateProducerID returns a producer id unique in the cluster.
func (n *Node) AllocateProducerID(ctx context.Context) (int64, error) {
	p := &n.pidBlock
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == 0 || p.next > p.last {
		res, err := n.Propose(ctx, fsmAllocate(producerIDBlock))
		if err != nil {
			return -1, err
		}
		if !res[0].OK() {
			return -1, fmt.Errorf("allocate producer ids: %s", res[0].Message)
		}
		p.next, p.last = res[0].ProducerID, res[0].ProducerID+producerIDBlock-1
	}
	id := p.next
	p.next++
	return id, nil
}
