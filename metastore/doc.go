// Package metastore keeps the cluster metadata (brokers, topics, assignments, leaders,
// ISR, configs, committed offsets, producer ids) durably in bbolt together with the Raft
// index and term it reflects. It knows nothing of actors or Raft.
package metastore
