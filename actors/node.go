// Package actors is chronik-node's actor tree (protoactor-go): the Raft ticker, the Raft
// loop, RaftStorage, the metadata applier, the proposer and Bootstrap, each a supervised
// actor with one job, plus the debug endpoint that shows them. Every actor rebuilds its
// state from durable storage when it (re)starts, so a panic restarts one actor and the
// node keeps serving.
package actors

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/raftnode/storage"
	"github.com/chronik/chronik-node/wal"
	"github.com/chronik/chronik-node/wal/batch/codec"
)

// RaftOptions tune the metadata Raft group.
type RaftOptions struct {
	Tick            time.Duration
	ElectionTicks   int
	HeartbeatTicks  int
	SnapshotEntries uint64
	ProposalTimeout time.Duration
	// Peers are the other voters by Raft id (clusters only).
	Peers map[uint64]string
}

// Options configure a node's actors. The caller opens (and later closes) the stores.
type Options struct {
	NodeID      uint64
	Advertise   metastore.Broker // host, port and rack clients are given; ID is NodeID
	Store       *metastore.Store
	RaftStorage storage.Storage
	Raft        RaftOptions
	Data        DataOptions
	Groups      GroupOptions
	Log         zerolog.Logger
}

// Node is a running actor tree.
type Node struct {
	opts Options
	log  zerolog.Logger

	system *actor.ActorSystem
	root   *actor.RootContext
	sp     *spawner
	reg    *registry
	pids   nodePIDs

	raftIncarnation atomic.Uint64
	image           atomic.Pointer[metastore.Image]
	raftState       atomic.Pointer[raftSnapshot]
	bootstrap       BootstrapReport
	// replayTo is the Raft log's last index when the node started: until the image
	// has applied that far, a topic missing from it may be one the log is about to
	// replay, so no partition directory may be taken for a deleted topic's.
	replayTo    uint64
	metrics     nodeMetrics
	groups      groupsHook
	stopSampler func()
	router      partitionRouter
	inflater    *codec.Decompressor // checking produced compressed batches, lookups inside stored ones
	// checking bounds how many produces at once hold a compressed batch's records
	// decompressed (up to checkInflateLimit each): a produce keeps them past the
	// decompression itself, to check, recompress and write them, so the inflater's own
	// bound on concurrent decompressions does not bound the memory they hold.
	checking   chan struct{}
	compressor *codec.Compressor // batches of topics whose compression.type names a codec
	// segmentFiles bounds the sealed segments' open files across all partitions.
	segmentFiles *wal.FileCache
	// segmentIndexes bounds the memory of sealed segments' indexes across all partitions.
	segmentIndexes *wal.IndexCache
	statuses       partitionStatuses
	pidBlock       producerIDs
	groupOpts      GroupOptions
	groupDir       groupDirectory
	trash          trash       // partition directories being deleted
	fences         writeFences // partitions whose log failed an fsync
	metaSpace      metaSpace   // metadata files refusing writes for lack of space
	// storageLogs bounds the node's lines about partitions' storage failures.
	storageLogs storageLogGate

	// cleaning holds a slot while a partition's log is being cleaned: one clean at a time
	// per node, as Kafka's one cleaner thread, so cleans take one core and one offset
	// map's memory at most.
	cleaning chan struct{}

	changeMu sync.Mutex
	changed  chan struct{} // closed and replaced whenever the image or Raft status changes

	listenersMu sync.RWMutex
	listeners   []func(img *metastore.Image, changedTopics []string)
}

// nodePIDs are computed before any actor starts (protoactor names are deterministic), so
// actors can address each other from their first message without racing the spawner.
type nodePIDs struct {
	supervisor, raftStorage, applier, proposer, raftLoop, raftTicker, partitions, groups *actor.PID
}

// raftSnapshot is the Raft status the loop publishes for readers on other goroutines.
type raftSnapshot struct {
	term, lead, commit uint64
	state              raft.StateType
}

// Start brings up the actor tree: Bootstrap first (so Raft's storage and the metadata
// store agree), then RaftStorage, the applier, the proposer, the Raft loop and its ticker.
// It returns once they run; WaitReady waits for a leader and this broker's registration.
func Start(opts Options) (*Node, error) {
	if opts.Data.Dir == "" {
		return nil, fmt.Errorf("start node: no data directory for partition logs")
	}
	n := &Node{opts: opts, log: opts.Log, reg: newRegistry(), changed: make(chan struct{})}
	n.compressor = codec.NewCompressor(runtime.GOMAXPROCS(0))
	n.metrics.commitLatency = newLatencyHistogram(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
	n.stopSampler = startRateSampler(n.reg, time.Second)
	n.router.m = map[TopicPartition]routeEntry{}
	n.trash.log = opts.Log.With().Str("component", "trash").Logger()
	slots := checkSlots(opts.Data.CheckMemory, runtime.GOMAXPROCS(0))
	n.inflater = codec.NewDecompressor(checkInflateLimit+1, slots)
	n.checking = make(chan struct{}, slots)
	n.segmentFiles = wal.NewFileCache(opts.Data.SealedSegmentFiles)
	n.segmentIndexes = wal.NewIndexCache(opts.Data.IndexMemory)
	n.groupOpts = opts.Groups.withDefaults()
	n.cleaning = make(chan struct{}, 1)
	if n.opts.Data.CleanerBackoff <= 0 {
		n.opts.Data.CleanerBackoff = defaultCleanerBackoff
	}
	if n.opts.Data.RetentionCheckInterval <= 0 {
		n.opts.Data.RetentionCheckInterval = 5 * time.Minute
	}
	protoLog := opts.Log.With().Str("component", "protoactor").Logger().Level(zerolog.WarnLevel)
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(zerolog.NewSlogHandler(protoLog))
	}))
	n.root = n.system.Root
	n.sp = &spawner{reg: n.reg, strategy: &restartStrategy{reg: n.reg, log: opts.Log.With().Str("component", "supervisor").Logger()}}

	sup, err := n.sp.spawn(n.root, "supervisor", "node", func() actor.Actor { return &supervisorActor{sp: n.sp} })
	if err != nil {
		return nil, err
	}
	child := func(name string) *actor.PID { return n.system.NewLocalPID(sup.Id + "/" + name) }
	n.pids = nodePIDs{
		supervisor: sup, raftStorage: child("raft-storage"), applier: child("applier"),
		proposer: child("proposer"), raftLoop: child("raft-loop"), raftTicker: child("raft-ticker"),
		partitions: child("partitions"), groups: child("groups"),
	}

	phase := time.Now()
	done := make(chan bootstrapDone, 1)
	if _, err := n.spawnChild("bootstrap", "bootstrap", func() actor.Actor { return &bootstrapActor{n: n, reply: done} }); err != nil {
		n.Stop()
		return nil, err
	}
	res := <-done
	if res.err != nil {
		n.Stop()
		return nil, res.err
	}
	n.bootstrap = res.report
	opts.Log.Info().Str("phase", "bootstrap").Str("mode", res.report.Mode).Dur("took", time.Since(phase)).Msg("startup phase done")

	phase = time.Now()
	img := res.report.image
	if img == nil {
		if img, err = opts.Store.Load(); err != nil {
			n.Stop()
			return nil, err
		}
	}
	if err := checkMembership(opts.NodeID, img, opts.RaftStorage); err != nil {
		n.Stop()
		return nil, err
	}
	n.image.Store(img)
	n.bootstrap.image = nil // published now; do not pin the first image forever
	// The log's last index, not its stored commit index, which lags (it read 3 with
	// the topics created at 5 and later): on one node every entry in the log commits
	// once it leads, and a leader's first entry comes after them all.
	if last, err := opts.RaftStorage.LastIndex(); err == nil {
		n.replayTo = last
	} else {
		n.replayTo = math.MaxUint64 // unknown: keep every partition directory
		opts.Log.Warn().Err(err).Msg("read the raft log's last index; partition directories of unknown topics are kept")
	}
	opts.Log.Info().Str("phase", "load metadata").Int("topics", len(img.Topics)).Int("partitions", img.PartitionCount()).
		Uint64("applied_index", img.Index).Dur("took", time.Since(phase)).Msg("startup phase done")

	n.OnImage(func(img *metastore.Image, changed []string) {
		n.root.Send(n.pids.partitions, &imageChanged{img: img, changed: changed})
	})
	phase = time.Now()
	for _, c := range []struct {
		kind     string
		pid      *actor.PID
		producer actor.Producer
	}{
		{"raft-storage", n.pids.raftStorage, restartAware(newRaftStorageActor(n))},
		{"applier", n.pids.applier, restartAware(newApplier(n))},
		{"proposer", n.pids.proposer, newProposer(n)},
		{"partitions", n.pids.partitions, newPartitionManager(n)},
		{"groups", n.pids.groups, newGroupManager(n)},
		{"raft-loop", n.pids.raftLoop, newRaftLoop(n)},
		{"raft-ticker", n.pids.raftTicker, newRaftTicker(n)},
	} {
		pid, err := n.spawnChild(c.kind, c.kind, c.producer)
		if err != nil {
			n.Stop()
			return nil, err
		}
		if !pid.Equal(c.pid) {
			n.Stop()
			return nil, fmt.Errorf("actor %s started as %s, expected %s", c.kind, pid.Id, c.pid.Id)
		}
	}
	// The debug page, /metrics and `status` show the groups this node coordinates. A
	// slow coordinator must not stall a scrape: each look is bounded.
	n.SetGroupsView(func() []GroupView {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return groupViews(n.GroupsInfo(ctx))
	})
	opts.Log.Info().Str("phase", "start actors").Dur("took", time.Since(phase)).Msg("startup phase done")
	return n, nil
}

// restartAware tells an actor instance whether an earlier instance ran before it: a
// restarted RaftStorage actor or applier may have lost work in hand and must have the
// Raft loop rebuild from durable state.
type restartable interface{ setRestarted() }

func restartAware(p actor.Producer) actor.Producer {
	var instances atomic.Int32
	return func() actor.Actor {
		a := p()
		if instances.Add(1) > 1 {
			a.(restartable).setRestarted()
		}
		return a
	}
}

func (n *Node) spawnChild(kind, name string, producer actor.Producer) (*actor.PID, error) {
	reply := make(chan spawnReply, 1)
	n.root.Send(n.pids.supervisor, &spawnRequest{kind: kind, name: name, producer: producer, reply: reply})
	r := <-reply
	return r.pid, r.err
}

// Stop stops every actor; the caller closes the stores afterwards.
func (n *Node) Stop() {
	if err := n.root.StopFuture(n.pids.supervisor).Wait(); err != nil {
		n.log.Warn().Err(err).Msg("stop actors")
	}
	n.system.Shutdown()
	n.stopSampler()
	n.trash.wait()
}

// Image is the latest applied metadata. It must not be modified.
func (n *Node) Image() *metastore.Image { return n.image.Load() }

// SealedSegmentFilesOpen is how many sealed segments' data files the partitions hold open
// (DataOptions.SealedSegmentFiles bounds it).
func (n *Node) SealedSegmentFilesOpen() int { return n.segmentFiles.OpenFiles() }

// SealedIndexBytes is the memory sealed segments' indexes take (DataOptions.IndexMemory
// bounds it).
func (n *Node) SealedIndexBytes() int64 { return n.segmentIndexes.Bytes() }

// metadataCaughtUp reports whether the image holds every entry the Raft log had
// committed when the node started.
func (n *Node) metadataCaughtUp() bool { return n.Image().Index >= n.replayTo }

// OnImage registers fn to run (on the applier's goroutine; it must not block) after each
// applied batch with the topics that changed. Register before traffic flows.
func (n *Node) OnImage(fn func(img *metastore.Image, changedTopics []string)) {
	n.listenersMu.Lock()
	n.listeners = append(n.listeners, fn)
	n.listenersMu.Unlock()
}

func (n *Node) publishImage(img *metastore.Image, changedTopics []string) {
	n.image.Store(img)
	n.listenersMu.RLock()
	for _, fn := range n.listeners {
		fn(img, changedTopics)
	}
	n.listenersMu.RUnlock()
	n.signalChange()
}

func (n *Node) publishRaftStatus(rn *raft.RawNode) {
	st := rn.BasicStatus()
	next := &raftSnapshot{term: st.GetTerm(), lead: st.Lead, commit: st.GetCommit(), state: st.RaftState}
	cur := n.raftState.Load()
	if cur != nil && *cur == *next {
		return
	}
	// A leader elected (a new id, or the same one in a new term) is one leader change.
	if next.lead != 0 && (cur == nil || cur.lead != next.lead || cur.term != next.term) {
		n.metrics.leaderChanges.Add(1)
	}
	n.raftState.Store(next)
	n.signalChange()
}

func (n *Node) signalChange() {
	n.changeMu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.changeMu.Unlock()
}

// waitFor waits until cond holds, re-checking whenever the image or Raft status changes.
func (n *Node) waitFor(ctx context.Context, cond func() bool) error {
	for {
		n.changeMu.Lock()
		ch := n.changed
		n.changeMu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitReady waits for a Raft leader, then makes sure the cluster has an id and this
// broker's advertised address is registered, proposing what is missing.
func (n *Node) WaitReady(ctx context.Context) error {
	if err := n.waitFor(ctx, func() bool { s := n.raftState.Load(); return s != nil && s.lead != 0 }); err != nil {
		return fmt.Errorf("wait for a raft leader: %w", err)
	}
	self := n.opts.Advertise
	self.ID = int32(n.opts.NodeID)
	for {
		img := n.Image()
		var cmds []fsm.Command
		if img.ClusterID == "" {
			cmds = append(cmds, fsm.Command{InitCluster: &fsm.InitCluster{ClusterID: metastore.NewUUID().String()}})
		}
		if cur, ok := img.Brokers[self.ID]; !ok || cur != self {
			cmds = append(cmds, fsm.Command{RegisterBroker: &fsm.RegisterBroker{Broker: self}})
		}
		if len(cmds) == 0 {
			return nil
		}
		res, err := n.Propose(ctx, cmds...)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("register broker %d: %w", self.ID, err)
			}
			continue // no leader for a moment: try again
		}
		for _, r := range res {
			if !r.OK() {
				return fmt.Errorf("register broker %d: %s", self.ID, r.Message)
			}
		}
	}
}

// Propose sends commands through Raft and returns their results once applied on this
// node. The error is ErrNoLeader or ErrTimeout (see ErrorCode) when nothing was applied.
func (n *Node) Propose(ctx context.Context, cmds ...fsm.Command) ([]fsm.Result, error) {
	timeout := n.opts.Raft.ProposalTimeout
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	reply := make(chan proposeResult, 1)
	start := time.Now()
	n.root.Send(n.pids.proposer, &proposeRequest{cmds: cmds, deadline: deadline, reply: reply})
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-reply:
		if r.err == nil {
			n.metrics.commitLatency.observe(time.Since(start))
		}
		return r.results, r.err
	case <-timer.C:
		return nil, ErrTimeout
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}

func fsmAllocate(count int64) fsm.Command {
	return fsm.Command{AllocateProducerIDs: &fsm.AllocateProducerIDs{Count: count}}
}

// voters is the initial membership of a new cluster: this node and its peers.
func (n *Node) voters() []uint64 {
	v := []uint64{n.opts.NodeID}
	for id := range n.opts.Raft.Peers {
		v = append(v, id)
	}
	slices.Sort(v)
	return v
}

// deliverResponses hands the responses of finished storage or apply work to the Raft
// loop (messages to this node) or to peers.
func (n *Node) deliverResponses(ctx actor.SenderContext, inc uint64, msgs []*raftpb.Message) {
	var local []*raftpb.Message
	for _, r := range msgs {
		if r.GetTo() == n.opts.NodeID {
			local = append(local, r)
		} else {
			n.sendToPeer(r)
		}
	}
	if len(local) > 0 {
		ctx.Send(n.pids.raftLoop, &raftResponses{inc: inc, msgs: local})
	}
}

// sendToPeer sends a Raft message to another node. A single node has no peers; the
// cluster transport plugs in here.
func (n *Node) sendToPeer(m *raftpb.Message) {
	n.log.Debug().Uint64("to", m.GetTo()).Stringer("type", m.GetType()).Msg("no transport to raft peer; message dropped")
}

// scheduleRepeatedly sends msg to pid every interval until the returned func is called.
// (protoactor's scheduler reads its timer state without synchronisation when cancelled,
// which the race detector reports, so this is a plain time.Ticker goroutine.)
func (n *Node) scheduleRepeatedly(interval time.Duration, pid *actor.PID, msg any) func() {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				n.root.Send(pid, msg)
			case <-stop:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }
}

// nodeMetrics counts metadata apply work and Raft activity for /debug/raft and /metrics.
type nodeMetrics struct {
	commandsApplied  atomic.Uint64
	applyBatches     atomic.Uint64
	applyNanos       atomic.Uint64
	leaderChanges    atomic.Uint64
	proposalsPending atomic.Int64      // callers of Propose the proposer has not answered
	commitLatency    *latencyHistogram // Propose to applied result, successful proposals
	compression      compressionCounters
	cleaner          cleanerCounters
}

func (m *nodeMetrics) applied(entries int, d time.Duration) {
	m.commandsApplied.Add(uint64(entries))
	m.applyBatches.Add(1)
	m.applyNanos.Add(uint64(d))
}
