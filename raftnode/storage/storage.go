package storage

import (
	"errors"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Storage is the Raft log of the metadata Raft group: raft.Storage for raft's reads plus
// the writes the node performs. All methods are safe for concurrent use; raft's goroutine
// reads while the node's storage goroutine writes.
type Storage interface {
	raft.Storage // InitialState, Entries, Term, LastIndex, FirstIndex, Snapshot

	// Save makes the durable part of one MsgStorageAppend durable, atomically where the
	// backend can: the snapshot first (if non-nil and its index is not 0), then the
	// entries (an entry at index i replaces every existing entry at index >= i; entries
	// at or below the compaction point are skipped), then the hard state (if non-nil and
	// not empty). Save either applies all three or none of them; when it returns nil the
	// message's responses may be sent. Entries and the snapshot are retained by
	// reference where the backend keeps them in memory, so the caller must not mutate
	// them afterwards (raft already guarantees this for MsgStorageAppend contents).
	Save(hs *raftpb.HardState, entries []*raftpb.Entry, snap *raftpb.Snapshot) error

	// CreateSnapshot records a snapshot of the state machine at applied index i with
	// conf state cs (nil keeps the conf state of the previous snapshot) and data. It
	// never compacts: the caller decides how many entries to keep behind the snapshot
	// and calls Compact(i - trailing) itself, so that slightly lagging followers can
	// still catch up from the log instead of receiving the whole snapshot.
	// Errors: raft.ErrSnapOutOfDate if i <= the current snapshot index,
	// raft.ErrUnavailable if i > LastIndex.
	CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error)

	// Compact discards entry compactIndex and every entry before it, keeping only the
	// term of compactIndex, so FirstIndex becomes compactIndex+1 (raft.MemoryStorage
	// semantics). Errors: raft.ErrCompacted if compactIndex is already compacted,
	// raft.ErrUnavailable if compactIndex > LastIndex, ErrCompactBeyondSnapshot if the
	// latest snapshot does not cover compactIndex (a lagging follower could then never
	// catch up).
	Compact(compactIndex uint64) error

	// Empty reports whether the storage holds nothing at all: no hard state, no
	// snapshot, no entries. The node bootstraps Raft from its metadata store then.
	Empty() bool

	// Stats describes the log for metrics and the debug endpoint.
	Stats() Stats

	// Close releases the backend. Every method returns ErrClosed afterwards (Empty
	// reports false and Stats reports the state at close).
	Close() error
}

// Stats describes a Storage's log.
type Stats struct {
	Mode          string // ModeMemory or ModeBolt
	FirstIndex    uint64 // first index available through Entries
	LastIndex     uint64 // index of the last entry (FirstIndex-1 when the log is empty)
	SnapshotIndex uint64
	SnapshotTerm  uint64
	Entries       uint64 // entries held in the log: LastIndex - FirstIndex + 1
	LogBytes      int64  // protobuf-encoded size of the entries held
	SnapshotBytes int64  // size of the latest snapshot's data
}

// Storage modes, as reported by Stats and as spelled in the config ([raft] storage).
const (
	ModeMemory = "memory"
	ModeBolt   = "bbolt"
)

var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("raft storage is closed")
	// ErrInvalidEntries is returned by Save when the entries cannot extend the log:
	// nil entries, index 0, non-consecutive indexes, a term lower than the entry before,
	// a first index beyond LastIndex+1 (a gap), or a rewrite of entries the latest
	// snapshot covers (they are committed).
	ErrInvalidEntries = errors.New("invalid raft log entries")
	// ErrCompactBeyondSnapshot is returned by Compact when asked to discard entries the
	// latest snapshot does not cover.
	ErrCompactBeyondSnapshot = errors.New("compaction beyond the latest snapshot")
	// ErrSchemaMismatch is returned by OpenBolt when the file was written with a layout
	// this binary does not understand.
	ErrSchemaMismatch = errors.New("raft log schema version mismatch")
	// ErrNotRaftLog is returned by OpenBolt when the file is a bbolt database that is not
	// a raft log (for example the metadata store's file).
	ErrNotRaftLog = errors.New("file is not a chronik raft log")
	// ErrCorrupt is returned by OpenBolt when the file's contents violate the log's
	// invariants (undecodable values, holes in the log, a commit beyond the last entry).
	ErrCorrupt = errors.New("raft log is corrupt")
)
