package storage

import (
	"fmt"
	"io"
	"log"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

const nodeID = 1

// singleNode drives a one-voter raft.RawNode with AsyncStorageWrites over a Storage,
// handling the local storage messages the way the node's storage goroutine does.
type singleNode struct {
	t       *testing.T
	rn      *raft.RawNode
	s       Storage
	applied uint64
	data    []string // payloads of applied normal entries, in order
}

func startNode(t *testing.T, s Storage, applied uint64) *singleNode {
	t.Helper()
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                 nodeID,
		ElectionTick:       10,
		HeartbeatTick:      1,
		Storage:            s,
		Applied:            applied,
		MaxSizePerMsg:      64 << 10,
		MaxInflightMsgs:    256,
		AsyncStorageWrites: true,
		Logger:             &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	if err != nil {
		t.Fatalf("NewRawNode: %v", err)
	}
	n := &singleNode{t: t, rn: rn, s: s, applied: applied}
	if err := rn.Campaign(); err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	n.drain()
	if st := rn.BasicStatus(); st.RaftState != raft.StateLeader {
		t.Fatalf("single node is %v after campaigning, want leader", st.RaftState)
	}
	return n
}

// step handles one Ready.
func (n *singleNode) step() {
	n.t.Helper()
	rd := n.rn.Ready()
	for _, m := range rd.Messages {
		switch m.GetType() {
		case raftpb.MessageType_MsgStorageAppend:
			hs := &raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
			if err := n.s.Save(hs, m.GetEntries(), m.GetSnapshot()); err != nil {
				n.t.Fatalf("Save: %v", err)
			}
		case raftpb.MessageType_MsgStorageApply:
			for _, e := range m.GetEntries() {
				if e.GetIndex() != n.applied+1 {
					n.t.Fatalf("applying entry %d after %d", e.GetIndex(), n.applied)
				}
				n.applied = e.GetIndex()
				if e.GetType() == raftpb.EntryType_EntryNormal && len(e.GetData()) > 0 {
					n.data = append(n.data, string(e.GetData()))
				}
			}
		default:
			n.t.Fatalf("single node sent %v to %d", m.GetType(), m.GetTo())
		}
		// Responses only after the write above returned.
		for _, resp := range m.GetResponses() {
			if err := n.rn.Step(resp); err != nil {
				n.t.Fatalf("Step(%v): %v", resp.GetType(), err)
			}
		}
	}
}

func (n *singleNode) drain() {
	for n.rn.HasReady() {
		n.step()
	}
}

// proposeAll proposes count payloads starting at from, handling a Ready every few
// proposals so that appends, commits and applies overlap, and compacting the log
// behind the applied index now and then.
func (n *singleNode) proposeAll(from, count int) {
	n.t.Helper()
	for k := from; k < from+count; k++ {
		if err := n.rn.Propose(fmt.Appendf(nil, "proposal %d", k)); err != nil {
			n.t.Fatalf("Propose %d: %v", k, err)
		}
		if k%7 == 0 && n.rn.HasReady() {
			n.step()
		}
		if k%50 == 0 {
			n.snapshotAndCompact()
		}
	}
	n.drain()
}

func (n *singleNode) snapshotAndCompact() {
	n.t.Helper()
	snapIndex := n.s.Stats().SnapshotIndex
	if n.applied <= snapIndex+10 {
		return
	}
	cs := &raftpb.ConfState{Voters: []uint64{nodeID}}
	if _, err := n.s.CreateSnapshot(n.applied, cs, fmt.Appendf(nil, "applied %d", n.applied)); err != nil {
		n.t.Fatalf("CreateSnapshot(%d): %v", n.applied, err)
	}
	if err := n.s.Compact(n.applied - 10); err != nil {
		n.t.Fatalf("Compact(%d): %v", n.applied-10, err)
	}
}

func wantProposals(t *testing.T, got []string, from, count int) {
	t.Helper()
	if len(got) != count {
		t.Fatalf("applied %d proposals, want %d", len(got), count)
	}
	for k, d := range got {
		if want := fmt.Sprintf("proposal %d", from+k); d != want {
			t.Fatalf("applied[%d] = %q, want %q", k, d, want)
		}
	}
}

// bootstrap makes s a one-voter group, the way raft recommends: a snapshot carrying the
// conf state instead of conf change entries.
func bootstrap(t *testing.T, s Storage) {
	t.Helper()
	if !s.Empty() {
		t.Fatal("bootstrapping a non-empty storage")
	}
	mustSave(t, s, nil, nil, snapshot(1, 1, []uint64{nodeID}, nil))
}

func TestRawNodeAsyncStorageWrites(t *testing.T) {
	const proposals = 300
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.new(t)
			bootstrap(t, s)
			n := startNode(t, s, 1)
			n.proposeAll(0, proposals)
			wantProposals(t, n.data, 0, proposals)
			hs, _, err := s.InitialState()
			if err != nil {
				t.Fatal(err)
			}
			last, _ := s.LastIndex()
			if hs.GetCommit() != last || n.applied != last {
				t.Fatalf("commit %d, applied %d, last index %d: want all equal", hs.GetCommit(), n.applied, last)
			}
			if st := s.Stats(); st.FirstIndex <= 2 || st.SnapshotIndex == 0 {
				t.Fatalf("the log was never compacted: %+v", st)
			}
		})
	}
}

func TestRawNodeRestartsFromBolt(t *testing.T) {
	const proposals = 200
	path := tempDBPath(t)
	s := openTestBolt(t, path, BoltOptions{NoSync: true})
	bootstrap(t, s)
	n := startNode(t, s, 1)
	n.proposeAll(0, proposals)
	wantProposals(t, n.data, 0, proposals)
	before := imageOf(t, s)
	applied := n.applied
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTestBolt(t, path, BoltOptions{NoSync: true})
	wantSameImage(t, imageOf(t, s), before)
	if before.hs.GetCommit() != applied || before.hs.GetTerm() == 0 || before.hs.GetVote() != nodeID {
		t.Fatalf("hard state before restart = %v, want commit %d and a vote for %d", before.hs, applied, nodeID)
	}
	n = startNode(t, s, applied)
	hs, _, _ := s.InitialState()
	if hs.GetTerm() <= before.hs.GetTerm() {
		t.Fatalf("term %d after re-election, want above %d", hs.GetTerm(), before.hs.GetTerm())
	}
	n.proposeAll(proposals, 100)
	// Nothing applied before the restart is applied again.
	wantProposals(t, n.data, proposals, 100)
	if last, _ := s.LastIndex(); n.applied != last {
		t.Fatalf("applied %d after restart, last index %d", n.applied, last)
	}
}
