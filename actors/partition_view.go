package actors

import "slices"

// PartitionView is a local partition replica's offsets together with its assignment in
// the metadata: what /debug/partitions and the debug page show.
type PartitionView struct {
	PartitionInfo
	LeaderID int32   `json:"leader_id"` // broker id of the leader, -1 for none
	Replicas []int32 `json:"replicas"`
	ISR      []int32 `json:"isr"`
}

// PartitionViews lists every open local partition replica with its assignment, sorted.
func (n *Node) PartitionViews() []PartitionView {
	img := n.Image()
	infos := n.Partitions()
	out := make([]PartitionView, 0, len(infos))
	for _, info := range infos {
		v := PartitionView{PartitionInfo: info, LeaderID: -1}
		if t := img.Topics[info.Topic]; t != nil && int(info.Partition) < len(t.Partitions) {
			p := t.Partitions[info.Partition]
			v.LeaderID, v.Replicas, v.ISR = p.Leader, slices.Clone(p.Replicas), slices.Clone(p.ISR)
		}
		out = append(out, v)
	}
	return out
}

// ReplicationHealth counts the partitions this node leads whose in-sync replica set is
// smaller than their replica set (under-replicated), and the partitions in the metadata
// with no leader (offline; a cluster-wide count, the same on every node). Both stay 0
// on a single node, where every partition's only replica is its leader.
func (n *Node) ReplicationHealth() (underReplicated, offline int) {
	img := n.Image()
	self := int32(n.opts.NodeID)
	for _, t := range img.Topics {
		for _, p := range t.Partitions {
			switch {
			case p.Leader < 0:
				offline++
			case p.Leader == self && len(p.ISR) < len(p.Replicas):
				underReplicated++
			}
		}
	}
	return underReplicated, offline
}
