package actors

import (
	"github.com/asynkron/protoactor-go/actor"
)

// raftTicker drives Raft's logical clock: it asks the scheduler to send the Raft loop a
// tick every raft.tick_interval for as long as it lives. (protoactor's ReceiveTimeout is
// racy in the pinned version, so ticks come from a timer the actor owns.)
type raftTicker struct {
	n      *Node
	cancel func()
}

func newRaftTicker(n *Node) actor.Producer {
	return func() actor.Actor { return &raftTicker{n: n} }
}

func (a *raftTicker) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.cancel = a.n.scheduleRepeatedly(a.n.opts.Raft.Tick, a.n.pids.raftLoop, &tick{})
	case *actor.Stopping, *actor.Restarting:
		if a.cancel != nil {
			a.cancel()
			a.cancel = nil
		}
	}
}
