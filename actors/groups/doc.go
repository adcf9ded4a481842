// Package groups is the classic Kafka consumer group protocol as a pure state machine:
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup and the offset commit checks, with the
// states Empty, PreparingRebalance, CompletingRebalance, Stable and Dead, generations,
// protocol selection, leader election, KIP-394 (member id required) and KIP-345 (static
// membership). It follows Kafka's classic group coordinator closely, so clients see the
// error codes they act on.
//
// The package does no I/O, starts no goroutine and reads no clock: every call takes the
// current time, and timers are an output (NextDeadline) that the owning actor turns into
// a real timer, calling Tick when it fires. Requests that have to wait for a rebalance
// (JoinGroup, SyncGroup) carry an opaque Waiter; their answers come back, possibly from a
// later call, as Replies in an Output. Offsets themselves are not held here: the owner
// persists them through Raft after CheckCommit accepts a commit.
package groups
