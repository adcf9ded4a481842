package actors

import (
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// raftStorageActor is the one writer of the Raft log (etcd MemoryStorage or bbolt, behind
// storage.Storage). It persists MsgStorageAppend work and only then releases the
// message's responses, which is what lets the Raft loop run ahead of the disk. Appends
// that queue up while a write is in progress are merged into one write: one fsync for
// many proposals.
type raftStorageActor struct {
	n   *Node
	log zerolog.Logger

	pending   []*storageAppend
	scheduled bool
	restarted bool
	// deferred is a hard state that only moved the commit index: raft sends those with no
	// responses, meaning it needs no durability (a lower commit index after a crash is
	// recomputed). It rides along with the next write instead of costing an fsync.
	deferred *raftpb.HardState
	// full is set while the disk has no space for the log: appends queue in pending
	// (nothing is acknowledged) and are written when retryAppends finds space again.
	full bool
}

func (a *raftStorageActor) setRestarted() { a.restarted = true }

func newRaftStorageActor(n *Node) actor.Producer {
	return func() actor.Actor {
		return &raftStorageActor{n: n, log: n.log.With().Str("actor", "raft-storage").Logger()}
	}
}

func (a *raftStorageActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.n.metaSpace.raftLog.Store(false) // a fresh instance has nothing waiting for space
		if a.restarted {
			// A restarted storage actor may have lost a write it was doing: have the Raft
			// loop start over from what is durable.
			ctx.Send(a.n.pids.raftLoop, &rebuildRaft{reason: "raft storage actor restarted"})
		}
	case *storageAppend:
		a.pending = append(a.pending, m)
		if !a.scheduled && !a.full {
			a.scheduled = true
			ctx.Send(ctx.Self(), &flushAppends{})
		}
	case *flushAppends:
		a.scheduled = false
		if !a.full {
			a.flush(ctx)
		}
	case *retryAppends:
		if a.full {
			a.full = false
			a.flush(ctx)
		}
	case *createSnapshot:
		a.snapshot(m)
	}
}

// flush persists every buffered append. Appends are merged until one carries a snapshot,
// which is written on its own because it resets the log.
func (a *raftStorageActor) flush(ctx actor.Context) {
	pending := a.pending
	a.pending = nil
	var (
		hs      *raftpb.HardState
		entries []*raftpb.Entry
		from    int
	)
	// write persists the merged appends pending[from:upto] in one Save, then releases
	// their responses in order. It reports false if the disk had no room: then
	// pending[from:] is kept, unacknowledged, for the next try.
	write := func(upto int) bool {
		if from == upto {
			return true
		}
		if len(entries) == 0 && !anyResponses(pending[from:upto]) {
			if hs != nil {
				a.deferred = hs
			}
			hs, from = nil, upto
			return true
		}
		deferred := a.deferred
		if hs == nil {
			hs = a.deferred
		}
		a.deferred = nil
		if err := a.n.opts.RaftStorage.Save(hs, entries, nil); err != nil {
			if isDiskFull(err) {
				a.deferred = deferred
				a.waitForSpace(ctx, pending[from:], err)
				return false
			}
			// The log could not be made durable, so nothing may be acknowledged. Panic: the
			// supervisor restarts us and the Raft loop rebuilds from what is on disk.
			a.log.Error().Err(err).Int("entries", len(entries)).Msg("persist raft log")
			panic(err)
		}
		// Room again: say so before anything is acknowledged, so that whoever sees the
		// change that waited for space sees the disk taking writes too.
		if a.n.metaSpace.raftLog.Swap(false) {
			a.log.Info().Msg("raft log takes writes again")
		}
		for _, p := range pending[from:upto] {
			a.n.deliverResponses(ctx, p.inc, p.msg.GetResponses())
		}
		hs, entries, from = nil, nil, upto
		return true
	}
	for i, p := range pending {
		m := p.msg
		if snap := m.GetSnapshot(); snap != nil && !raft.IsEmptySnap(snap) {
			if !write(i) {
				return
			}
			a.installSnapshot(ctx, p, snap)
			from = i + 1
			continue
		}
		entries = mergeEntries(entries, m.GetEntries())
		if h := hardStateOf(m); h != nil {
			hs = h
		}
	}
	write(len(pending))
}

// waitForSpace keeps appends the disk had no room for, in order and unacknowledged, and
// tries them again later. The Raft node stays as it is (its leadership with it); what it
// waits for is only the acknowledgement of these writes.
func (a *raftStorageActor) waitForSpace(ctx actor.Context, unwritten []*storageAppend, err error) {
	a.pending = unwritten
	a.full = true
	if !a.n.metaSpace.raftLog.Swap(true) {
		a.log.Error().Err(err).Int("appends", len(unwritten)).
			Msg("raft log write refused: disk full; metadata changes are refused until there is space, writes retried")
	}
	self := ctx.Self()
	time.AfterFunc(metaSpaceRetry, func() { a.n.root.Send(self, &retryAppends{}) })
}

func anyResponses(pending []*storageAppend) bool {
	for _, p := range pending {
		if len(p.msg.GetResponses()) > 0 {
			return true
		}
	}
	return false
}

// installSnapshot persists a leader's snapshot (and the entries and hard state that came
// with it), then hands it to the applier, which answers Raft once the metadata store holds
// the snapshot's state.
func (a *raftStorageActor) installSnapshot(ctx actor.Context, p *storageAppend, snap *raftpb.Snapshot) {
	m := p.msg
	a.deferred = nil // the snapshot's own hard state is newer
	if err := a.n.opts.RaftStorage.Save(hardStateOf(m), m.GetEntries(), snap); err != nil {
		a.log.Error().Err(err).Uint64("index", snap.GetMetadata().GetIndex()).Msg("persist raft snapshot")
		panic(err)
	}
	a.log.Info().Uint64("index", snap.GetMetadata().GetIndex()).Uint64("term", snap.GetMetadata().GetTerm()).
		Int("bytes", len(snap.GetData())).Msg("installed raft snapshot from leader")
	ctx.Send(a.n.pids.applier, &installSnapshot{inc: p.inc, snap: snap, responses: m.GetResponses()})
}

func (a *raftStorageActor) snapshot(m *createSnapshot) {
	st := a.n.opts.RaftStorage
	// Raft refuses to start from a hard state whose commit index is below the snapshot.
	// The snapshot is taken at an applied (so committed) index, but the commit index
	// travels to storage separately, possibly deferred: persist it first.
	if err := a.persistCommit(m.index); err != nil {
		a.log.Warn().Err(err).Uint64("index", m.index).Msg("persist commit index before a snapshot")
		return
	}
	if _, err := st.CreateSnapshot(m.index, m.cs, m.data); err != nil {
		if err == raft.ErrSnapOutOfDate {
			return
		}
		a.log.Warn().Err(err).Uint64("index", m.index).Msg("create raft snapshot")
		return
	}
	// Keep a tail of entries behind the snapshot so a briefly lagging follower catches up
	// from the log instead of needing the whole snapshot.
	keep := min(uint64(1000), a.n.opts.Raft.SnapshotEntries/10)
	if m.index > keep+1 {
		if err := st.Compact(m.index - keep); err != nil && err != raft.ErrCompacted {
			a.log.Warn().Err(err).Uint64("index", m.index-keep).Msg("compact raft log")
			return
		}
	}
	stats := st.Stats()
	a.log.Info().Uint64("snapshot_index", m.index).Uint64("first_index", stats.FirstIndex).
		Uint64("entries", stats.Entries).Int("bytes", len(m.data)).Msg("raft log compacted behind a snapshot")
}

// persistCommit makes the durable hard state's commit index at least index, which must be
// committed already.
func (a *raftStorageActor) persistCommit(index uint64) error {
	st := a.n.opts.RaftStorage
	hs, _, err := st.InitialState()
	if err != nil {
		return err
	}
	if a.deferred != nil && a.deferred.GetTerm() >= hs.GetTerm() {
		hs = a.deferred
	}
	if hs.GetCommit() >= index && a.deferred == nil {
		return nil
	}
	term, vote, commit := hs.GetTerm(), hs.GetVote(), max(hs.GetCommit(), index)
	if err := st.Save(&raftpb.HardState{Term: &term, Vote: &vote, Commit: &commit}, nil, nil); err != nil {
		return err
	}
	a.deferred = nil
	return nil
}

// hardStateOf rebuilds the HardState a MsgStorageAppend carries, or nil if it carries none.
func hardStateOf(m *raftpb.Message) *raftpb.HardState {
	if m.Term == nil && m.Vote == nil && m.Commit == nil {
		return nil
	}
	return &raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
}

// mergeEntries appends next to prev; an entry in next replaces prev's entries from its
// index on, as Raft's log does when a leader overwrites an uncommitted suffix.
func mergeEntries(prev, next []*raftpb.Entry) []*raftpb.Entry {
	if len(next) == 0 {
		return prev
	}
	// Raft owns the slices it hands out: clip them so append always copies.
	if len(prev) == 0 {
		return slices.Clip(next)
	}
	first := next[0].GetIndex()
	if base := prev[0].GetIndex(); first <= base {
		return slices.Clip(next)
	} else if cut := int(first - base); cut < len(prev) {
		prev = slices.Clip(prev[:cut])
	}
	return append(prev, next...)
}
