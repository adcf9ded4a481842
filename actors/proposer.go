package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/raftnode/fsm"
)

// maxCommandsPerEntry bounds one Raft entry; callers' batches are never split.
const maxCommandsPerEntry = 4096

// proposer turns callers' command batches into Raft entries and answers each caller once
// its commands are applied, or with a Kafka error when Raft drops them or they time out.
// Requests that arrive together are packed into one entry, so many small admin requests
// cost one Raft round and one fsync.
type proposer struct {
	n   *Node
	log zerolog.Logger

	seq       uint64
	buffer    []*proposeRequest
	scheduled bool
	inflight  map[uint64][]*proposeRequest
	cancel    func()
}

func newProposer(n *Node) actor.Producer {
	return func() actor.Actor {
		return &proposer{n: n, log: n.log.With().Str("actor", "proposer").Logger()}
	}
}

// ProposeError is a failure to apply anything, with the Kafka error code a client acts on.
type ProposeError struct {
	Code int16
	msg  string
}

func (e *ProposeError) Error() string { return e.msg }

// KafkaCode is the error code for clients.
func (e *ProposeError) KafkaCode() int16 { return e.Code }

// Errors a caller of Propose can get besides per-command results.
var (
	ErrNoLeader = &ProposeError{Code: kerr.NotController.Code, msg: "no metadata leader right now"}
	ErrTimeout  = &ProposeError{Code: kerr.RequestTimedOut.Code, msg: "metadata change not applied in time"}
)

func (a *proposer) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// Sequence numbers start at the clock so a restarted proposer never reuses one
		// that may still sit in the Raft log.
		a.seq = uint64(time.Now().UnixNano())
		a.inflight = map[uint64][]*proposeRequest{}
		a.cancel = a.n.scheduleRepeatedly(time.Second, ctx.Self(), &sweepProposals{})
	case *actor.Stopping, *actor.Restarting:
		if a.cancel != nil {
			a.cancel()
		}
	case *proposeRequest:
		if a.n.metaSpace.full() {
			// Proposed now, it would wait behind writes the disk has no room for and
			// still be applied after its caller had given up on it.
			m.reply <- proposeResult{err: ErrMetadataDiskFull}
			break
		}
		a.buffer = append(a.buffer, m)
		if !a.scheduled {
			a.scheduled = true
			ctx.Send(ctx.Self(), &flushProposals{})
		}
	case *flushProposals:
		a.scheduled = false
		a.flush(ctx)
	case *appliedResults:
		for seq, results := range m.bySeq {
			a.answer(seq, results)
		}
	case *proposalDropped:
		batch := a.inflight[m.seq]
		delete(a.inflight, m.seq)
		a.publishPending()
		for _, r := range batch {
			r.reply <- proposeResult{err: fmt.Errorf("%w: %v", ErrNoLeader, m.err)}
		}
	case *sweepProposals:
		a.sweep(time.Now())
	}
	a.publishPending()
}

// publishPending shows how many callers wait. Whatever answers callers calls it first: a
// caller that has its answer and then reads the count (in /debug/raft, or the
// chronik_raft_proposals_pending gauge) must not find itself still counted.
func (a *proposer) publishPending() {
	a.n.metrics.proposalsPending.Store(int64(a.pending()))
}

// pending counts the callers waiting for an answer (a restarted proposer starts at 0:
// the callers of the old one time out on their own).
func (a *proposer) pending() int {
	n := len(a.buffer)
	for _, batch := range a.inflight {
		n += len(batch)
	}
	return n
}

// flush packs buffered requests into entries of at most maxCommandsPerEntry commands.
func (a *proposer) flush(ctx actor.Context) {
	for len(a.buffer) > 0 {
		var (
			batch []*proposeRequest
			cmds  []fsm.Command
		)
		for len(a.buffer) > 0 {
			r := a.buffer[0]
			if len(batch) > 0 && len(cmds)+len(r.cmds) > maxCommandsPerEntry {
				break
			}
			batch = append(batch, r)
			cmds = append(cmds, r.cmds...)
			a.buffer = a.buffer[1:]
		}
		a.seq++
		entry := &fsm.Entry{Node: a.n.opts.NodeID, Seq: a.seq, Cmds: cmds}
		data, err := entry.Encode()
		if err != nil {
			a.publishPending()
			for _, r := range batch {
				r.reply <- proposeResult{err: err}
			}
			continue
		}
		a.inflight[a.seq] = batch
		ctx.Send(a.n.pids.raftLoop, &proposeData{seq: a.seq, data: data})
	}
	a.buffer = nil
}

// answer splits an entry's results back to the requests packed into it.
func (a *proposer) answer(seq uint64, results []fsm.Result) {
	batch, ok := a.inflight[seq]
	if !ok {
		return // timed out already, or proposed before a restart
	}
	delete(a.inflight, seq)
	a.publishPending()
	for _, r := range batch {
		n := min(len(r.cmds), len(results))
		r.reply <- proposeResult{results: results[:n]}
		results = results[n:]
	}
}

func (a *proposer) sweep(now time.Time) {
	var expired [][]*proposeRequest
	for seq, batch := range a.inflight {
		if now.Before(batch[0].deadline) {
			continue
		}
		expired = append(expired, batch)
		delete(a.inflight, seq)
	}
	a.publishPending()
	for _, batch := range expired {
		for _, r := range batch {
			r.reply <- proposeResult{err: ErrTimeout}
		}
	}
}
