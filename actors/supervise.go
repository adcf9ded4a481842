package actors

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// restartStrategy restarts a failed actor, always: a panic in one actor must not take
// the node down, and every actor rebuilds its state from durable storage when it starts
// (crash-only design). The failure is counted for the debug endpoint and logged.
type restartStrategy struct {
	reg *registry
	log zerolog.Logger
}

func (s *restartStrategy) HandleFailure(_ *actor.ActorSystem, supervisor actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, message any) {
	stack := ""
	delay := time.Duration(0)
	if st := s.reg.get(child.Id); st != nil {
		delay = st.recordFailure(reason)
		st.mu.Lock()
		stack = st.lastStack
		st.mu.Unlock()
	}
	s.log.Error().Str("actor", child.Id).Str("panic", fmt.Sprint(reason)).Str("message_type", fmt.Sprintf("%T", message)).
		Dur("restart_in", delay).Str("stack", stack).Msg("actor panicked; restarting it from durable state")
	if delay == 0 {
		supervisor.RestartChildren(child)
		return
	}
	// Failing again right after a restart: back off so a persistent fault (a full disk,
	// a broken file) does not spin the CPU and flood the log.
	time.AfterFunc(delay, func() { supervisor.RestartChildren(child) })
}

// spawner creates supervised, counted actors.
type spawner struct {
	reg      *registry
	strategy actor.SupervisorStrategy
}

// props builds the props every chronik actor uses: a counting mailbox, the restart
// strategy for its own children, and a middleware that keeps the stack of a panic
// (protoactor passes only the panic value to the supervisor) and deregisters the actor
// once it has stopped.
func (sp *spawner) props(st *actorStats, producer actor.Producer) *actor.Props {
	return actor.PropsFromProducer(producer,
		actor.WithMailbox(sp.reg.mailboxFor(st)),
		actor.WithSupervisor(sp.strategy),
		actor.WithReceiverMiddleware(func(next actor.ReceiverFunc) actor.ReceiverFunc {
			return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
				defer func() {
					if r := recover(); r != nil {
						st.mu.Lock()
						st.lastStack = string(debug.Stack())
						st.mu.Unlock()
						panic(r)
					}
				}()
				panicOnInjection(env)
				next(ctx, env)
				if _, ok := env.Message.(*actor.Stopped); ok {
					sp.reg.remove(st)
				}
			}
		}),
	)
}

// spawn starts a named child of parent (the root context, or an actor's context). The
// child's id is known before it starts (protoactor names children parent/name), so its
// counters are registered before its first message.
func (sp *spawner) spawn(parent actor.SpawnerContext, kind, name string, producer actor.Producer) (*actor.PID, error) {
	id := name
	if c, ok := parent.(actor.Context); ok {
		id = c.Self().Id + "/" + name
	}
	st := &actorStats{id: id, kind: kind, started: time.Now()}
	sp.reg.add(st)
	pid, err := parent.SpawnNamed(sp.props(st, producer), name)
	if err != nil {
		sp.reg.remove(st)
		return nil, fmt.Errorf("spawn %s actor %q: %w", kind, name, err)
	}
	return pid, nil
}

// spawnRequest asks the supervisor actor to start a child.
type spawnRequest struct {
	kind, name string
	producer   actor.Producer
	reply      chan spawnReply
}

type spawnReply struct {
	pid *actor.PID
	err error
}

// supervisorActor is the root of the node's actor tree; it exists so that the node's
// actors are its children and restart under its strategy.
type supervisorActor struct{ sp *spawner }

func (a *supervisorActor) Receive(ctx actor.Context) {
	if req, ok := ctx.Message().(*spawnRequest); ok {
		pid, err := a.sp.spawn(ctx, req.kind, req.name, req.producer)
		req.reply <- spawnReply{pid, err}
	}
}
