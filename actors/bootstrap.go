package actors

import (
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/storage"
)

// BootstrapReport says what Bootstrap did at start; /debug/raft shows it.
type BootstrapReport struct {
	// Mode is "none" (the Raft log was intact), "fresh" (a new cluster) or "metastore"
	// (Raft was empty and was rebuilt from the metadata store).
	Mode     string        `json:"mode"`
	Index    uint64        `json:"index"`
	Term     uint64        `json:"term"`
	Topics   int           `json:"topics"`
	Duration time.Duration `json:"duration_ns"`
	// RestoredStore is set when the metadata store was behind the Raft snapshot and was
	// restored from it.
	RestoredStore bool `json:"restored_store,omitempty"`

	// image is the metadata Bootstrap loaded (nil if it read none), so Start need not
	// load the store a second time.
	image *metastore.Image
}

// bootstrapActor makes Raft's durable state and the metadata store agree before the Raft
// loop starts, then stops: its one job is done.
type bootstrapActor struct {
	n     *Node
	reply chan bootstrapDone
}

type bootstrapDone struct {
	report BootstrapReport
	err    error
}

func (a *bootstrapActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		log := a.n.log.With().Str("actor", "bootstrap").Logger()
		report, err := bootstrapRaft(a.n.opts.RaftStorage, a.n.opts.Store, a.n.voters(), log)
		a.reply <- bootstrapDone{report, err}
		ctx.Stop(ctx.Self())
	}
}

// bootstrapRaft prepares Raft storage for a RawNode:
//   - Raft storage empty (memory mode always, bbolt on first start or after losing its
//     file): the state is rebuilt from the metadata store as a snapshot at the store's
//     applied index and term. Raft's up-to-date rule then still picks the freshest node
//     in a cluster. A brand-new store first records the initial membership at index 1,
//     term 1, which every node of a new cluster does identically.
//   - Raft storage holds a snapshot newer than the store (the store was lost): the store
//     is restored from the snapshot.
//   - Raft storage is older than the store, or disagrees with it about the term of the
//     store's last entry (a bbolt log left from before the node ran in memory mode): the
//     log is stale and is rebuilt from the store like an empty one. Appending to it
//     instead would give new entries indexes the store has already applied, and they
//     would be skipped.
func bootstrapRaft(st storage.Storage, store *metastore.Store, voters []uint64, log zerolog.Logger) (BootstrapReport, error) {
	start := time.Now()
	if !st.Empty() {
		stale, err := raftLogStale(st, store)
		if err != nil {
			return BootstrapReport{}, err
		}
		if !stale {
			if err := repairCommit(st, log); err != nil {
				return BootstrapReport{}, err
			}
			return restoreStoreFromSnapshot(st, store, start, log)
		}
		log.Warn().Msg("bootstrap: the raft log is older than the metadata store; rebuilding it from the store")
	}
	img, err := store.Load()
	if err != nil {
		return BootstrapReport{}, fmt.Errorf("bootstrap: %w", err)
	}
	mode := "metastore"
	if img.Index == 0 {
		mode = "fresh"
		cs := metastore.ConfState{Voters: slices.Clone(voters)}
		if err := store.Commit(&metastore.Changes{Index: 1, Term: 1, ConfState: &cs}); err != nil {
			return BootstrapReport{}, fmt.Errorf("bootstrap: record initial membership: %w", err)
		}
		img.Index, img.Term, img.ConfState = 1, 1, cs
	}
	if len(img.ConfState.Voters) == 0 {
		img.ConfState.Voters = slices.Clone(voters)
	}
	data, err := metastore.EncodeImage(img)
	if err != nil {
		return BootstrapReport{}, fmt.Errorf("bootstrap: %w", err)
	}
	index, term := img.Index, img.Term
	snap := &raftpb.Snapshot{
		Data: data,
		Metadata: &raftpb.SnapshotMetadata{
			Index:     &index,
			Term:      &term,
			ConfState: &raftpb.ConfState{Voters: img.ConfState.Voters, Learners: img.ConfState.Learners},
		},
	}
	hs := &raftpb.HardState{Term: &term, Commit: &index}
	if old, _, err := st.InitialState(); err == nil && old.GetTerm() >= term {
		// A stale log may remember a later term (and a vote in it): never go back in time.
		oldTerm, vote := old.GetTerm(), old.GetVote()
		hs.Term, hs.Vote = &oldTerm, &vote
	}
	if err := st.Save(hs, nil, snap); err != nil {
		return BootstrapReport{}, fmt.Errorf("bootstrap: save raft snapshot at %d: %w", index, err)
	}
	report := BootstrapReport{Mode: mode, Index: index, Term: term, Topics: len(img.Topics), Duration: time.Since(start), image: img}
	log.Info().Str("mode", mode).Uint64("index", index).Uint64("term", term).Int("topics", len(img.Topics)).
		Int("partitions", img.PartitionCount()).Dur("took", report.Duration).Msg("bootstrap: raft rebuilt from the metadata store")
	return report, nil
}

// repairCommit raises a hard state's commit index that is below the log's snapshot, which
// raft refuses to start from. The snapshot's index is committed by definition; a log
// written before the snapshot path persisted the commit index first can hold one.
func repairCommit(st storage.Storage, log zerolog.Logger) error {
	hs, _, err := st.InitialState()
	if err != nil {
		return fmt.Errorf("bootstrap: raft log: %w", err)
	}
	first, err := st.FirstIndex()
	if err != nil {
		return fmt.Errorf("bootstrap: raft log: %w", err)
	}
	snapIndex := first - 1
	if hs.GetCommit() >= snapIndex {
		return nil
	}
	term, vote := hs.GetTerm(), hs.GetVote()
	if err := st.Save(&raftpb.HardState{Term: &term, Vote: &vote, Commit: &snapIndex}, nil, nil); err != nil {
		return fmt.Errorf("bootstrap: raise commit index to the snapshot: %w", err)
	}
	log.Warn().Uint64("commit", hs.GetCommit()).Uint64("snapshot_index", snapIndex).Msg("bootstrap: commit index was below the raft snapshot; raised it")
	return nil
}

// raftLogStale reports whether a non-empty Raft log is behind the metadata store: its last
// index is below the store's applied index, or its entry at that index has another term.
func raftLogStale(st storage.Storage, store *metastore.Store) (bool, error) {
	applied, appliedTerm, err := store.Applied()
	if err != nil {
		return false, fmt.Errorf("bootstrap: %w", err)
	}
	last, err := st.LastIndex()
	if err != nil {
		return false, fmt.Errorf("bootstrap: raft log: %w", err)
	}
	if applied == 0 {
		return false, nil
	}
	if last < applied {
		return true, nil
	}
	term, err := st.Term(applied)
	if err != nil {
		return false, nil // compacted past the store: the snapshot is newer (restore path)
	}
	return term != appliedTerm, nil
}

func restoreStoreFromSnapshot(st storage.Storage, store *metastore.Store, start time.Time, log zerolog.Logger) (BootstrapReport, error) {
	report := BootstrapReport{Mode: "none"}
	applied, _, err := store.Applied()
	if err != nil {
		return report, fmt.Errorf("bootstrap: %w", err)
	}
	snap, err := st.Snapshot()
	if err != nil {
		return report, fmt.Errorf("bootstrap: read raft snapshot: %w", err)
	}
	meta := snap.GetMetadata()
	if meta.GetIndex() <= applied {
		return report, nil
	}
	img, err := metastore.DecodeImage(snap.GetData())
	if err != nil {
		return report, fmt.Errorf("bootstrap: raft snapshot at %d: %w", meta.GetIndex(), err)
	}
	img.Index, img.Term = meta.GetIndex(), meta.GetTerm()
	img.ConfState = metastore.ConfState{Voters: meta.GetConfState().GetVoters(), Learners: meta.GetConfState().GetLearners()}
	if err := store.Replace(img); err != nil {
		return report, fmt.Errorf("bootstrap: %w", err)
	}
	report.RestoredStore, report.Index, report.Term, report.Topics = true, img.Index, img.Term, len(img.Topics)
	report.image = img
	report.Duration = time.Since(start)
	log.Warn().Uint64("store_index", applied).Uint64("snapshot_index", img.Index).
		Msg("bootstrap: metadata store was behind the raft snapshot; restored it from the snapshot")
	return report, nil
}
