package actors

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// raftLoop owns the RawNode: it takes ticks, proposals, peer messages and the responses
// of storage and apply work, and drains Ready. With AsyncStorageWrites the Ready's local
// messages say what to persist (to the RaftStorage actor) and what to apply (to the
// applier); their responses come back here only after the work is durable, so the loop
// itself never blocks on disk.
type raftLoop struct {
	n   *Node
	log zerolog.Logger

	rn             *raft.RawNode
	inc            uint64
	readyScheduled bool
}

func newRaftLoop(n *Node) actor.Producer {
	return func() actor.Actor { return &raftLoop{n: n, log: n.log.With().Str("actor", "raft-loop").Logger()} }
}

func (a *raftLoop) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// A fresh instance (first start or restart after a panic) starts from durable state.
		a.build("start")
	case *rebuildRaft:
		a.build(m.reason)
	case *tick:
		a.rn.Tick()
		a.n.publishRaftStatus(a.rn)
	case *proposeData:
		if err := a.rn.Propose(m.data); err != nil {
			ctx.Send(a.n.pids.proposer, &proposalDropped{seq: m.seq, err: err})
		}
	case *raftResponses:
		if m.inc != a.inc {
			return // for a RawNode we replaced
		}
		for _, msg := range m.msgs {
			a.step(msg)
		}
	case *raftpb.Message:
		a.step(m)
	case *applyConfChange:
		m.reply <- a.rn.ApplyConfChange(m.cc)
	case *processReady:
		a.readyScheduled = false
		a.drainReady(ctx)
		a.n.publishRaftStatus(a.rn)
	}
	if a.rn != nil && !a.readyScheduled && a.rn.HasReady() {
		a.readyScheduled = true
		ctx.Send(ctx.Self(), &processReady{})
	}
}

func (a *raftLoop) step(m *raftpb.Message) {
	if err := a.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		a.log.Debug().Err(err).Stringer("type", m.GetType()).Msg("raft step refused a message")
	}
}

// build creates a RawNode from what RaftStorage holds, with the applied index of the
// published metadata image, so raft redelivers exactly the committed entries the metadata
// store has not seen.
func (a *raftLoop) build(reason string) {
	a.inc = a.n.raftIncarnation.Add(1)
	// With asynchronous storage writes the durable commit index can trail what was
	// applied (it is persisted with the next append); raft refuses an applied index above
	// it. Starting lower only makes raft redeliver entries the applier skips by index.
	applied := a.n.Image().Index
	if hs, _, err := a.n.opts.RaftStorage.InitialState(); err == nil && hs.GetCommit() < applied {
		applied = hs.GetCommit()
	}
	cfg := &raft.Config{
		ID:                        a.n.opts.NodeID,
		ElectionTick:              a.n.opts.Raft.ElectionTicks,
		HeartbeatTick:             a.n.opts.Raft.HeartbeatTicks,
		Storage:                   a.n.opts.RaftStorage,
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  64 << 20,
		MaxUncommittedEntriesSize: 256 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		AsyncStorageWrites:        true,
		StepDownOnRemoval:         true,
		Logger:                    raftLogger{a.log},
	}
	rn, err := raft.NewRawNode(cfg)
	if err != nil {
		// The storage is unreadable: nothing this actor can do but fail loudly; the
		// supervisor restarts it and the log shows why.
		panic(fmt.Sprintf("start raft node (applied %d): %v", applied, err))
	}
	a.rn = rn
	a.readyScheduled = false
	a.log.Info().Str("reason", reason).Uint64("incarnation", a.inc).Uint64("applied", applied).Msg("raft node started")
	// A node that is the only voter need not wait an election timeout to lead.
	if st := a.n.opts.RaftStorage; st != nil {
		if _, cs, err := st.InitialState(); err == nil && len(cs.GetVoters()) == 1 && cs.GetVoters()[0] == a.n.opts.NodeID {
			if err := rn.Campaign(); err != nil {
				a.log.Warn().Err(err).Msg("campaign as single voter")
			}
		}
	}
	a.n.publishRaftStatus(rn)
}

// drainReady routes one Ready's messages: storage work, apply work and peer traffic.
func (a *raftLoop) drainReady(ctx actor.Context) {
	if !a.rn.HasReady() {
		return
	}
	rd := a.rn.Ready()
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			ctx.Send(a.n.pids.raftStorage, &storageAppend{inc: a.inc, msg: m})
		case raft.LocalApplyThread:
			ctx.Send(a.n.pids.applier, &storageApply{inc: a.inc, msg: m})
		default:
			a.n.sendToPeer(m)
		}
	}
}
