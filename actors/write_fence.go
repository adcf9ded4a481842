package actors

import "sync"

// writeFences remembers the partitions whose log failed an fsync. Such a partition takes
// no more writes until the broker restarts, as Kafka takes a failed log directory offline:
// after a failed writeback the kernel may mark the pages it could not write clean, so
// what the failed fsync covered may never reach the disk, and a later fsync that succeeds
// says nothing about it. Acknowledging appends made after it would put acknowledged
// records behind a hole that recovery cuts after a power failure. The fence lives on the
// node, not in the partition's actor, which a panic restarts with fresh state.
type writeFences struct {
	mu sync.Mutex
	m  map[TopicPartition]error
}

func (f *writeFences) fence(tp TopicPartition, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[TopicPartition]error{}
	}
	if f.m[tp] == nil {
		f.m[tp] = err
	}
}

// get is the fsync failure that fenced tp, or nil.
func (f *writeFences) get(tp TopicPartition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[tp]
}

// lift forgets tp's fence: its data is being deleted with its topic, and a topic created
// again under the same name starts on fresh files.
func (f *writeFences) lift(tp TopicPartition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, tp)
}
