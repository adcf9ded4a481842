package actors

import (
	"sort"
	"sync"
	"sync/atomic"
)

// partitionStatus is what a partition actor publishes about itself for readers on other
// goroutines (consumer lag, the debug endpoint, metrics) without a message round trip.
type partitionStatus struct {
	logStart, highWatermark, logEnd, sizeBytes, parked atomic.Int64
	leaderEpoch                                        atomic.Int32
	leader                                             atomic.Bool
}

// PartitionInfo is a snapshot of one local partition replica.
type PartitionInfo struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	Leader         bool   `json:"leader"`
	LeaderEpoch    int32  `json:"leader_epoch"`
	LogStartOffset int64  `json:"log_start_offset"`
	HighWatermark  int64  `json:"high_watermark"`
	LogEndOffset   int64  `json:"log_end_offset"`
	SizeBytes      int64  `json:"size_bytes"`
	ParkedFetches  int64  `json:"parked_fetches"`
	// WritesFenced is the fsync failure that stopped the partition taking writes until the
	// broker restarts (see writeFences); empty while it takes them.
	WritesFenced string `json:"writes_fenced,omitempty"`
}

// partitionStatuses holds the status of every open partition replica.
type partitionStatuses struct{ m sync.Map } // TopicPartition -> *partitionStatus

func (s *partitionStatuses) open(tp TopicPartition) *partitionStatus {
	st := &partitionStatus{}
	s.m.Store(tp, st)
	return st
}

func (s *partitionStatuses) remove(tp TopicPartition) { s.m.Delete(tp) }

// PartitionInfo reports a local partition's offsets; ok is false if it is not open here.
func (n *Node) PartitionInfo(tp TopicPartition) (PartitionInfo, bool) {
	v, ok := n.statuses.m.Load(tp)
	if !ok {
		return PartitionInfo{}, false
	}
	return n.withFence(v.(*partitionStatus).info(tp)), true
}

// Partitions lists every open local partition replica, sorted.
func (n *Node) Partitions() []PartitionInfo {
	var out []PartitionInfo
	n.statuses.m.Range(func(k, v any) bool {
		out = append(out, n.withFence(v.(*partitionStatus).info(k.(TopicPartition))))
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

func (st *partitionStatus) info(tp TopicPartition) PartitionInfo {
	return PartitionInfo{
		Topic: tp.Topic, Partition: tp.Partition, Leader: st.leader.Load(), LeaderEpoch: st.leaderEpoch.Load(),
		LogStartOffset: st.logStart.Load(), HighWatermark: st.highWatermark.Load(),
		LogEndOffset: st.logEnd.Load(), SizeBytes: st.sizeBytes.Load(), ParkedFetches: st.parked.Load(),
	}
}

func (n *Node) withFence(info PartitionInfo) PartitionInfo {
	if err := n.fences.get(TopicPartition{Topic: info.Topic, Partition: info.Partition}); err != nil {
		info.WritesFenced = err.Error()
	}
	return info
}
