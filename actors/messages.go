package actors

import (
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/chronik/chronik-node/raftnode/fsm"
)

// Messages between the Raft actors. Storage and apply work carries the incarnation of the
// RawNode that asked for it: when the Raft loop rebuilds its RawNode (after it, the
// storage actor or the applier restarted) responses meant for the old one are dropped.

// tick advances Raft's logical clock.
type tick struct{}

// processReady makes the Raft loop drain Ready once its mailbox has no more input, so
// that a burst of proposals and responses becomes one Ready.
type processReady struct{}

// proposeData is one encoded fsm.Entry for Raft.
type proposeData struct {
	seq  uint64
	data []byte
}

// proposalDropped tells the proposer Raft refused a proposal (no leader right now).
type proposalDropped struct {
	seq uint64
	err error
}

// storageAppend is a MsgStorageAppend for the RaftStorage actor.
type storageAppend struct {
	inc uint64
	msg *raftpb.Message
}

// storageApply is a MsgStorageApply for the applier.
type storageApply struct {
	inc uint64
	msg *raftpb.Message
}

// installSnapshot hands a snapshot received from a leader to the applier, which replaces
// the metadata image with it before the append's responses go back to Raft.
type installSnapshot struct {
	inc       uint64
	snap      *raftpb.Snapshot
	responses []*raftpb.Message
}

// raftResponses are messages to step into the RawNode once storage or apply work is done.
type raftResponses struct {
	inc  uint64
	msgs []*raftpb.Message
}

// flushAppends and flushApplies make an actor process everything it has buffered.
type flushAppends struct{}
type flushApplies struct{}

// createSnapshot asks RaftStorage to record a snapshot and compact the log behind it.
type createSnapshot struct {
	index uint64
	cs    *raftpb.ConfState
	data  []byte
}

// applyConfChange asks the Raft loop to apply a committed membership change.
type applyConfChange struct {
	cc    raftpb.ConfChangeI
	reply chan *raftpb.ConfState
}

// rebuildRaft makes the Raft loop start a new RawNode from durable state.
type rebuildRaft struct{ reason string }

// proposeRequest is a caller's batch of commands waiting to be applied.
type proposeRequest struct {
	cmds     []fsm.Command
	deadline time.Time
	reply    chan proposeResult
}

type proposeResult struct {
	results []fsm.Result
	err     error
}

// appliedResults reports the results of this node's proposals applied in one batch.
type appliedResults struct {
	bySeq map[uint64][]fsm.Result
}

type flushProposals struct{}
type sweepProposals struct{}
