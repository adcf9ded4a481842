package actors

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.etcd.io/raft/v3"
)

// RaftStatus is what /debug/raft shows.
type RaftStatus struct {
	NodeID        uint64          `json:"node_id"`
	Term          uint64          `json:"term"`
	Leader        uint64          `json:"leader"`
	State         string          `json:"state"`
	CommitIndex   uint64          `json:"commit_index"`
	AppliedIndex  uint64          `json:"applied_index"`
	AppliedTerm   uint64          `json:"applied_term"`
	Voters        []uint64        `json:"voters"`
	StorageMode   string          `json:"storage_mode"`
	SnapshotIndex uint64          `json:"snapshot_index"`
	SnapshotTerm  uint64          `json:"snapshot_term"`
	FirstIndex    uint64          `json:"first_index"`
	LastIndex     uint64          `json:"last_index"`
	LogEntries    uint64          `json:"log_entries"`
	LogBytes      int64           `json:"log_bytes"`
	SnapshotBytes int64           `json:"snapshot_bytes"`
	Bootstrap     BootstrapReport `json:"bootstrap"`
	// CommandsApplied counts Raft entries applied since start; ApplyBatches the metadata
	// store commits they took.
	CommandsApplied uint64 `json:"entries_applied"`
	ApplyBatches    uint64 `json:"apply_batches"`
	// LeaderChanges counts leaders this node has seen elected since start;
	// ProposalsPending the metadata changes waiting for Raft to apply them.
	LeaderChanges    uint64 `json:"leader_changes"`
	ProposalsPending int64  `json:"proposals_pending"`
	// MetadataDiskFull is set while the Raft log or the metadata store has no room for a
	// write: metadata changes are refused until it clears (see metaSpace).
	MetadataDiskFull bool `json:"metadata_disk_full"`
}

// RaftStatus reports the Raft group as this node sees it.
func (n *Node) RaftStatus() RaftStatus {
	img := n.Image()
	st := n.opts.RaftStorage.Stats()
	s := RaftStatus{
		NodeID: n.opts.NodeID, AppliedIndex: img.Index, AppliedTerm: img.Term, Voters: img.ConfState.Voters,
		StorageMode: st.Mode, SnapshotIndex: st.SnapshotIndex, SnapshotTerm: st.SnapshotTerm,
		FirstIndex: st.FirstIndex, LastIndex: st.LastIndex, LogEntries: st.Entries, LogBytes: st.LogBytes,
		SnapshotBytes: st.SnapshotBytes, Bootstrap: n.bootstrap,
		CommandsApplied: n.metrics.commandsApplied.Load(), ApplyBatches: n.metrics.applyBatches.Load(),
		LeaderChanges: n.metrics.leaderChanges.Load(), ProposalsPending: n.metrics.proposalsPending.Load(),
		MetadataDiskFull: n.metaSpace.full(),
	}
	if rs := n.raftState.Load(); rs != nil {
		s.Term, s.Leader, s.CommitIndex, s.State = rs.term, rs.lead, rs.commit, rs.state.String()
	} else {
		s.State = raft.StateFollower.String()
	}
	return s
}

// Actors lists every live actor with its mailbox counters.
func (n *Node) Actors() []ActorStat { return n.reg.snapshot() }

// ActorKinds sums the actors by kind; message and restart totals include stopped actors.
func (n *Node) ActorKinds() []KindStat { return n.reg.kinds() }

// CommitLatency is the distribution of the time from Propose to the applied result, over
// the proposals that were applied.
func (n *Node) CommitLatency() LatencySnapshot { return n.metrics.commitLatency.snapshot() }

// Controller is the broker id of the metadata Raft leader, or -1 when there is none:
// Kafka clients send admin requests to the controller.
func (n *Node) Controller() int32 {
	if rs := n.raftState.Load(); rs != nil && rs.lead != 0 {
		return int32(rs.lead)
	}
	return -1
}

// Ready reports whether this node has a Raft leader and is registered.
func (n *Node) Ready() bool {
	rs := n.raftState.Load()
	_, registered := n.Image().Brokers[int32(n.opts.NodeID)]
	return rs != nil && rs.lead != 0 && registered
}

// injectedPanic makes any chronik actor panic (fault injection for tests and drills).
type injectedPanic struct{ reason string }

// InjectPanic makes the actor with the given id panic while handling a message, as a
// bug would. It reports whether such an actor exists.
func (n *Node) InjectPanic(id string) bool {
	if n.reg.get(id) == nil {
		return false
	}
	n.root.Send(n.system.NewLocalPID(id), &injectedPanic{reason: "injected panic via debug endpoint"})
	return true
}

// DebugHandler serves the debug page (/debug/), /debug/actors, /debug/raft,
// /debug/partitions, /debug/pprof/ and /healthz. With faults set it also serves
// POST /debug/panic?actor=ID, which makes that actor panic.
func (n *Node) DebugHandler(faults bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /debug/{$}", n.debugPage())
	mux.Handle("GET /{$}", http.RedirectHandler("/debug/", http.StatusFound))
	mux.HandleFunc("GET /debug/actors", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"time": time.Now(), "actors": n.Actors()})
	})
	mux.HandleFunc("GET /debug/raft", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, n.RaftStatus())
	})
	mux.HandleFunc("GET /debug/partitions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"time": time.Now(), "partitions": n.PartitionViews()})
	})
	mux.HandleFunc("GET /debug/groups", n.serveGroups)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !n.Ready() {
			http.Error(w, "not ready: no raft leader or broker not registered", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if faults {
		mux.HandleFunc("POST /debug/panic", func(w http.ResponseWriter, r *http.Request) {
			id := r.URL.Query().Get("actor")
			if !n.InjectPanic(id) {
				http.Error(w, fmt.Sprintf("no actor %q", id), http.StatusNotFound)
				return
			}
			fmt.Fprintf(w, "panic sent to %s\n", id)
		})
	}
	return mux
}

// writeJSON encodes v whole before writing it, so that an encoding failure can still
// answer 500. Encoding straight to w sent the 500 after a partial body once a client hung
// up mid-answer (the write error looked like an encoding one), which Go's HTTP server
// logs as a superfluous WriteHeader call.
func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(body, '\n')) // a client gone mid-answer is no error of ours
}

// panicOnInjection is part of every actor's receive chain (see spawner.props).
func panicOnInjection(env *actor.MessageEnvelope) {
	if p, ok := env.Message.(*injectedPanic); ok {
		panic(p.reason)
	}
}
