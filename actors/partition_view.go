package actors

import "slices"

// PartitionView is a partition replica this node hosts, with its assignment from the
// metadata and, once its actor runs, its offsets: what /debug/partitions, the debug page
// and `chronik-node status` show.
type PartitionView struct {
	PartitionInfo
	// Open is true while the partition's actor runs. Actors start on first use (or at
	// start for partitions with data on disk); until then the offsets read -1.
	Open     bool    `json:"open"`
	LeaderID int32   `json:"leader_id"` // broker id of the leader, -1 for none
	Replicas []int32 `json:"replicas"`
	ISR      []int32 `json:"isr"`
}

// PartitionViews lists the partition replicas assigned to this node in the metadata,
// plus any still open that the metadata no longer has (a topic being deleted), sorted.
func (n *Node) PartitionViews() []PartitionView {
	img := n.Image()
	self := int32(n.opts.NodeID)
	open := map[TopicPartition]PartitionInfo{}
	for _, info := range n.Partitions() {
		open[TopicPartition{info.Topic, info.Partition}] = info
	}
	var out []PartitionView
	for _, name := range img.SortedTopicNames() {
		for i, p := range img.Topics[name].Partitions {
			tp := TopicPartition{name, int32(i)}
			info, isOpen := open[tp]
			if !isOpen && !slices.Contains(p.Replicas, self) {
				continue
			}
			if !isOpen {
				info = PartitionInfo{Topic: name, Partition: int32(i), Leader: p.Leader == self, LeaderEpoch: p.LeaderEpoch,
					LogStartOffset: -1, HighWatermark: -1, LogEndOffset: -1}
			}
			delete(open, tp)
			out = append(out, PartitionView{PartitionInfo: info, Open: isOpen, LeaderID: p.Leader,
				Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR)})
		}
	}
	for _, info := range open {
		out = append(out, PartitionView{PartitionInfo: info, Open: true, LeaderID: -1})
	}
	slices.SortFunc(out, func(a, b PartitionView) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
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
