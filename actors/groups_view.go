package actors

import (
	"slices"
	"sort"
	"sync/atomic"
)

// GroupView is what the debug page, /metrics (consumer lag) and `chronik-node status`
// show of one consumer group. The group coordinator supplies these through
// SetGroupsView; until it does, the node reports no groups.
type GroupView struct {
	Group string `json:"group"`
	// State uses Kafka's names: Empty, PreparingRebalance, CompletingRebalance, Stable,
	// Dead.
	State      string            `json:"state"`
	Generation int32             `json:"generation"`
	Protocol   string            `json:"protocol,omitempty"` // the chosen assignor, e.g. "range"
	Leader     string            `json:"leader,omitempty"`   // member id of the group leader
	Members    []GroupMemberView `json:"members"`
	// Partitions are the group's committed offsets with their lag.
	Partitions []GroupPartitionView `json:"partitions"`
}

// GroupMemberView is one member of a group.
type GroupMemberView struct {
	MemberID string `json:"member_id"`
	ClientID string `json:"client_id"`
	Host     string `json:"host"`
}

// GroupPartitionView is a group's committed offset on one partition. Lag is
// HighWatermark - CommittedOffset (never negative), and 0 when unknown: the partition
// is not hosted on this node (HighWatermark is -1 then) or the commit is negative.
// GroupPartition fills both.
type GroupPartitionView struct {
	Topic           string `json:"topic"`
	Partition       int32  `json:"partition"`
	CommittedOffset int64  `json:"committed_offset"`
	HighWatermark   int64  `json:"high_watermark"`
	Lag             int64  `json:"lag"`
}

// TotalLag sums the group's lag over its partitions.
func (g GroupView) TotalLag() int64 {
	var sum int64
	for _, p := range g.Partitions {
		sum += p.Lag
	}
	return sum
}

// groupsHook holds the coordinator's view function; an atomic pointer because it is set
// once at start while scrapes may already read it.
type groupsHook struct {
	fn atomic.Pointer[func() []GroupView]
}

// SetGroupsView installs the function that lists consumer groups for the debug page,
// /metrics and `status`. It is called on scrape and page-load goroutines, concurrently,
// and must not block on an actor's reply for long (read published state).
func (n *Node) SetGroupsView(fn func() []GroupView) { n.groups.fn.Store(&fn) }

// GroupsView lists the consumer groups, sorted by name; empty until SetGroupsView.
func (n *Node) GroupsView() []GroupView {
	p := n.groups.fn.Load()
	if p == nil {
		return nil
	}
	out := slices.Clone((*p)()) // sorted here; the coordinator's slice is left alone
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// GroupPartition builds a group's entry for tp from its committed offset, with the lag
// against tp's high watermark when tp is hosted here.
func (n *Node) GroupPartition(tp TopicPartition, committed int64) GroupPartitionView {
	v := GroupPartitionView{Topic: tp.Topic, Partition: tp.Partition, CommittedOffset: committed, HighWatermark: -1}
	if info, ok := n.PartitionInfo(tp); ok {
		v.HighWatermark = info.HighWatermark
		if committed >= 0 { // a negative commit names no position (see GroupsInfo)
			v.Lag = max(info.HighWatermark-committed, 0)
		}
	}
	return v
}
