// Package wal is the per-partition write-ahead log: a directory of segments of Kafka
// record batches stored verbatim, with sparse offset and time indexes, recovery of a
// torn tail, retention and a leader-epoch cache. It knows nothing of actors or Raft.
package wal
