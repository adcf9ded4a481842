package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// applier applies committed Raft entries, in order, to the metadata image and writes the
// result to the metadata store in one bbolt transaction together with the applied index
// and term. Only then does it publish the new image, answer this node's proposals and
// tell Raft the entries are applied. Applies that queue up while a commit is in progress
// are merged: one fsync for many commands.
type applier struct {
	n   *Node
	log zerolog.Logger

	img       *metastore.Image
	lastSnap  uint64
	pending   []*storageApply
	scheduled bool
	restarted bool
	// full is set while the disk has no space for the metadata store: applies queue in
	// pending (nothing is published or acknowledged) until retryApplies finds space.
	full bool
}

func (a *applier) setRestarted() { a.restarted = true }

func newApplier(n *Node) actor.Producer {
	return func() actor.Actor { return &applier{n: n, log: n.log.With().Str("actor", "applier").Logger()} }
}

func (a *applier) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.n.metaSpace.store.Store(false) // a fresh instance has nothing waiting for space
		a.start(ctx)
	case *storageApply:
		a.pending = append(a.pending, m)
		if !a.scheduled && !a.full {
			a.scheduled = true
			ctx.Send(ctx.Self(), &flushApplies{})
		}
	case *flushApplies:
		a.scheduled = false
		if !a.full {
			a.flush(ctx)
		}
	case *retryApplies:
		if a.full {
			a.full = false
			a.flush(ctx)
		}
	case *installSnapshot:
		if a.full {
			// A snapshot replaces the store; what waits for space is older than it.
			panic("metadata store full when a leader snapshot arrived")
		}
		a.flush(ctx) // entries queued before the snapshot come first
		a.install(ctx, m)
	}
}

// start rebuilds the image from the metadata store: the store, not memory, is the truth.
// After a restart the batch in hand when we failed is lost, so the Raft loop restarts
// from the store's applied index and redelivers it.
func (a *applier) start(ctx actor.Context) {
	a.lastSnap = a.n.opts.RaftStorage.Stats().SnapshotIndex
	if !a.restarted {
		a.img = a.n.Image() // Start loaded it a moment ago
		return
	}
	img, err := a.n.opts.Store.Load()
	if err != nil {
		panic(err) // retried by the supervisor; the log says why
	}
	a.img = img
	a.n.publishImage(img, img.SortedTopicNames())
	ctx.Send(a.n.pids.raftLoop, &rebuildRaft{reason: "applier restarted"})
}

func (a *applier) flush(ctx actor.Context) {
	if len(a.pending) == 0 {
		return
	}
	pending := a.pending
	a.pending = nil
	start := time.Now()
	b := fsm.NewBatch(a.img)
	results := map[uint64][]fsm.Result{}
	applied := 0
	confChanged := false
	for _, p := range pending {
		for _, e := range p.msg.GetEntries() {
			if e.GetIndex() <= b.Image().Index {
				continue // already applied: redelivered after a Raft rebuild
			}
			confChanged = confChanged || e.GetType() != raftpb.EntryNormal
			a.applyEntry(b, e, results)
			b.SetApplied(e.GetIndex(), e.GetTerm())
			applied++
		}
	}
	if applied > 0 {
		img, changes := b.Done()
		if err := a.n.opts.Store.Commit(changes); err != nil {
			// A full disk: keep the entries and apply them again later, from the same
			// image (a batch never touches its base). Not with a membership change in
			// the batch, which Raft was told about already: restart from the store.
			if isDiskFull(err) && !confChanged {
				a.waitForSpace(ctx, pending, err)
				return
			}
			a.log.Error().Err(err).Uint64("index", changes.Index).Msg("commit metadata")
			panic(err) // nothing is published or acknowledged; restart from the store
		}
		// Room again: say so before the changes are published or acknowledged, so that
		// whoever sees a change that waited for space sees the disk taking writes too.
		if a.n.metaSpace.store.Swap(false) {
			a.log.Info().Msg("metadata store takes writes again")
		}
		a.img = img
		a.n.publishImage(img, b.ChangedTopics())
		a.n.metrics.applied(applied, time.Since(start))
		if len(results) > 0 {
			ctx.Send(a.n.pids.proposer, &appliedResults{bySeq: results})
		}
	}
	for _, p := range pending {
		a.n.deliverResponses(ctx, p.inc, p.msg.GetResponses())
	}
	a.maybeSnapshot(ctx)
}

// waitForSpace keeps applies the metadata store had no room for, unpublished and
// unacknowledged, and tries them again later.
func (a *applier) waitForSpace(ctx actor.Context, unapplied []*storageApply, err error) {
	a.pending = unapplied
	a.full = true
	if !a.n.metaSpace.store.Swap(true) {
		a.log.Error().Err(err).Int("applies", len(unapplied)).
			Msg("metadata store write refused: disk full; metadata changes are refused until there is space, writes retried")
	}
	self := ctx.Self()
	time.AfterFunc(metaSpaceRetry, func() { a.n.root.Send(self, &retryApplies{}) })
}

func (a *applier) applyEntry(b *fsm.Batch, e *raftpb.Entry, results map[uint64][]fsm.Result) {
	switch e.GetType() {
	case raftpb.EntryNormal:
		if len(e.GetData()) == 0 {
			return // the empty entry a new leader appends
		}
		entry, err := fsm.DecodeEntry(e.GetData())
		if err != nil {
			// Every node skips the same undecodable entry, so images stay identical.
			a.log.Error().Err(err).Uint64("index", e.GetIndex()).Msg("skip undecodable raft entry")
			return
		}
		res := make([]fsm.Result, len(entry.Cmds))
		for i := range entry.Cmds {
			res[i] = b.Apply(&entry.Cmds[i])
		}
		if entry.Node == a.n.opts.NodeID {
			results[entry.Seq] = res
		}
	case raftpb.EntryConfChange, raftpb.EntryConfChangeV2:
		cc, err := decodeConfChange(e)
		if err != nil {
			a.log.Error().Err(err).Uint64("index", e.GetIndex()).Msg("skip undecodable conf change")
			return
		}
		reply := make(chan *raftpb.ConfState, 1)
		a.n.root.Send(a.n.pids.raftLoop, &applyConfChange{cc: cc, reply: reply})
		cs := <-reply
		b.SetConfState(metastore.ConfState{Voters: cs.GetVoters(), Learners: cs.GetLearners()})
		a.log.Info().Uints64("voters", cs.GetVoters()).Uints64("learners", cs.GetLearners()).Msg("raft membership changed")
	}
}

func decodeConfChange(e *raftpb.Entry) (raftpb.ConfChangeI, error) {
	if e.GetType() == raftpb.EntryConfChange {
		var cc raftpb.ConfChange
		return &cc, proto.Unmarshal(e.GetData(), &cc)
	}
	var cc raftpb.ConfChangeV2
	return &cc, proto.Unmarshal(e.GetData(), &cc)
}

// maybeSnapshot asks RaftStorage to snapshot and compact once enough entries were applied
// since the last snapshot; the snapshot data is the encoded image, so a follower that is
// sent it can rebuild its metadata store from it.
func (a *applier) maybeSnapshot(ctx actor.Context) {
	every := a.n.opts.Raft.SnapshotEntries
	if every == 0 || a.img.Index < a.lastSnap+every {
		return
	}
	data, err := metastore.EncodeImage(a.img)
	if err != nil {
		a.log.Error().Err(err).Msg("encode snapshot")
		return
	}
	cs := &raftpb.ConfState{Voters: a.img.ConfState.Voters, Learners: a.img.ConfState.Learners}
	ctx.Send(a.n.pids.raftStorage, &createSnapshot{index: a.img.Index, cs: cs, data: data})
	a.lastSnap = a.img.Index
}

// install replaces the metadata with a leader's snapshot.
func (a *applier) install(ctx actor.Context, m *installSnapshot) {
	meta := m.snap.GetMetadata()
	if meta.GetIndex() > a.img.Index {
		img, err := metastore.DecodeImage(m.snap.GetData())
		if err != nil {
			panic(err)
		}
		img.Index, img.Term = meta.GetIndex(), meta.GetTerm()
		img.ConfState = metastore.ConfState{Voters: meta.GetConfState().GetVoters(), Learners: meta.GetConfState().GetLearners()}
		if err := a.n.opts.Store.Replace(img); err != nil {
			panic(err)
		}
		a.img = img
		a.lastSnap = img.Index
		a.n.publishImage(img, img.SortedTopicNames())
		a.log.Info().Uint64("index", img.Index).Int("topics", len(img.Topics)).Msg("metadata replaced by leader snapshot")
	}
	a.n.deliverResponses(ctx, m.inc, m.responses)
}
