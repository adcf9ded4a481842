// Package storage holds the Raft log of chronik-node's metadata Raft group, behind one
// interface with two backends, chosen by the config setting storage in the raft section
// ("bbolt" or "memory"):
//
//   - NewMemory wraps raft.MemoryStorage: nothing survives the process.
//   - OpenBolt keeps the log in one bbolt file.
//
// Both accept and refuse exactly the same calls (one conformance suite runs against
// both): where raft.MemoryStorage would panic on bad input, both return errors.
//
// # Writing
//
// The node runs raft with AsyncStorageWrites. For each MsgStorageAppend it calls
// Save(hardState, entries, snapshot) and delivers the message's responses only after
// Save returns. Save applies the snapshot first (resetting the log to just after it),
// then the entries (an entry at index i replaces every entry >= i), then the hard state;
// either all of it or none of it is applied.
//
// Snapshots and compaction are separate steps, and the policy is the caller's:
// CreateSnapshot(applied, confState, data) only records a snapshot; Compact(i) then
// discards entries <= i, keeping the term of i. The node is expected to keep a trailing
// window, calling Compact(snapshotIndex - trailing), so that followers slightly behind
// can catch up from the log rather than by a full snapshot transfer. Compact refuses to
// go past the latest snapshot (ErrCompactBeyondSnapshot): entries no snapshot covers
// would be lost to a lagging follower for good. Likewise Save refuses to rewrite entries
// the latest snapshot covers (they are committed).
//
// # On-disk layout (bbolt backend, schema version 2)
//
//	bucket "meta"
//	  "schema"        big-endian uint32 schema version, checked at open
//	bucket "state"
//	  "hardstate"     protobuf raftpb.HardState (absent until a non-empty one is saved)
//	  "compacted"     big-endian uint64 index + uint64 term of the last discarded entry
//	                  (FirstIndex-1); absent means 0, 0
//	  "snapshot.meta" protobuf raftpb.SnapshotMetadata: index, term and the ConfState
//	bucket "snapshot"
//	  "snapshot.data" the state machine's snapshot bytes (absent when empty). A bucket of
//	                  its own because bbolt rewrites a whole leaf when any key in it
//	                  changes: beside "hardstate" (schema v1) every Save rewrote it.
//	bucket "entries"
//	  big-endian uint64 index -> protobuf raftpb.Entry
//
// The conf state has no key of its own: raft's InitialState reports the conf state of
// the latest snapshot, so it is stored once, inside "snapshot.meta", and cannot disagree
// with it. Conf changes after the snapshot are entries in the log, which raft replays.
//
// A file with another schema version is refused (ErrSchemaMismatch), as is a bbolt file
// that is not a raft log (ErrNotRaftLog: for instance the metadata store's file, which is
// left untouched). Opening reads every entry once to check the invariants below and to
// build the in-memory index, so it costs time linear in the log's length; the log is
// compacted behind snapshots, so it stays short.
//
// # Guarantees (bbolt backend)
//
//   - Each Save, CreateSnapshot and Compact is one bbolt transaction: one fsync, however
//     many entries it carries. With BoltOptions.NoSync (tests and benchmarks only) a
//     kill -9 is still safe but a power loss is not.
//   - Crash safety: every invariant is stored in the same transaction as the data it
//     describes (the compaction point with the deletes, the snapshot with the log reset),
//     so after a kill -9 at any point the file reopens as the state after some prefix of
//     the acknowledged writes, plus possibly the write in flight. Open checks: entries
//     consecutive from FirstIndex with non-decreasing terms, each stored under its own
//     index; compaction point <= snapshot index <= LastIndex with agreeing terms; hard
//     state commit <= LastIndex. A violation is reported as ErrCorrupt, never repaired.
//   - A write transaction that fails (for example an fsync error) leaves the file's state
//     unknown, so the storage then refuses further writes; restart to reopen.
//   - Reads are safe concurrently with writes. Term, FirstIndex and LastIndex answer from
//     memory (terms are kept as runs of equal terms, a handful per log). Entries answers
//     from an in-memory cache of the newest entries (BoltOptions.TailCache*, 1024 entries
//     or 4 MiB by default) or else reads the range in one read-only transaction. A write
//     runs its transaction, fsync included, without blocking readers, then publishes
//     its result; a read that would see a committed-but-unpublished state waits for the
//     publication, so every read reflects one state the log actually had.
//   - Compaction deletes entries; the file does not shrink (bbolt reuses the pages),
//     but Stats reports the log shrinking.
//
// Entries and snapshot data passed to Save or CreateSnapshot are kept by reference in
// memory (raft guarantees MsgStorageAppend contents are not mutated): the caller must
// not modify them afterwards.
package storage
