// Package wal is the per-partition write-ahead log: a directory of segments holding Kafka
// record batches verbatim, with sparse offset and time indexes, recovery of a torn tail,
// retention and a leader-epoch cache. It knows nothing of actors or Raft.
//
// # Files
//
// One directory per partition replica:
//
//	00000000000000000000.log        segment: batches back to back, exactly as appended
//	00000000000000000000.index      sparse offset index of a sealed segment
//	00000000000000000000.timeindex  sparse time index of a sealed segment
//	00000000000000004711.log        ... the last segment is the active one
//	leader-epoch-checkpoint         leader-epoch cache
//	log-start-offset-checkpoint     log start offset (after DeleteRecords or retention)
//	recovery-point-offset-checkpoint  segments wholly below it are durable and indexed
//	cleaner-offset-checkpoint       compacted logs: the log below it has been cleaned
//
// A segment is named by its base offset, 20 digits zero-padded; its first batch has that
// base offset and every batch continues the previous one (base offset = previous last
// offset + 1), except below the cleaner checkpoint, where log compaction (compact.go) may
// have removed batches: there a segment's first batch may start after its base, and
// gaps may follow any batch. A segment never exceeds 4 GiB or 2^31 offsets, so the indexes can use 32-bit
// relative values.
//
// The offset index holds 8-byte entries (relative base offset uint32, file position
// uint32, big-endian): one batch per IndexIntervalBytes of data. The time index holds
// 12-byte entries (max timestamp so far int64, relative offset uint32 of the last record of
// the batch that set it), added with the offset entries whenever the segment's max
// timestamp grew, plus one when the segment is sealed, so its last entry is the segment's
// newest timestamp. Both indexes live in memory (about 8 bytes per IndexIntervalBytes of
// data) and are written to disk only when a sealed segment is synced: the active segment
// has no index files, and Open rebuilds its indexes by scanning it.
//
// Checkpoint files follow Kafka's text format: a version line "0", a count line, then the
// entries ("<offset>", or "<epoch> <start offset>" for leader epochs). They are replaced
// atomically: temporary file, fsync, rename, fsync of the directory.
//
// # Concurrency
//
// One owner goroutine calls Append, AppendReplicated, TruncateTo, TruncateFullyAndStartAt,
// DeleteRecordsBefore, EnforceRetention, SetConfig, PlanClean, FinishClean, Discard and
// Close; a CleanPlan's Run may run on any goroutine meanwhile. Read, Sync, StartOffset,
// EndOffset, Size, OffsetForTimestamp, MaxTimestamp, LeaderEpochs, EndOffsetForEpoch and
// ScanHeaders may run on other goroutines at the same time. Appends write first and publish
// the new end afterwards, so readers never see part of a batch. Segment files are closed,
// removed or shrunk only while no read is using them. Truncation and segment deletion wait
// for a Sync in progress.
//
// # Durability
//
// Append returns once the batch is in the page cache: readable, not yet durable. Sync makes
// durable everything appended before it was called: it fdatasyncs the segments sealed since
// the previous Sync, writes and flushes their index files, flushes the directory, records
// the new recovery point, and fdatasyncs the active segment. The broker runs Sync on its own
// goroutine so that appends arriving during one fdatasync share the next (group commit).
// Truncation, DeleteRecordsBefore and epoch-cache changes are durable when they return.
// Close syncs.
//
// Open recovers whatever a crash left. Segments wholly below the recovery point are trusted:
// only their index files are read, and rebuilt from the data if missing or inconsistent (a
// segment there that fails its checks makes Open fail rather than cut durable data; the
// rebuilt index files are written by the next Sync, so Open needs no disk space). Every
// later segment, always including the active one, is scanned batch by batch: length,
// CRC-32C and offset continuity. The first bad batch, and everything after it in this and
// later segments, is cut and logged at warn level with the file, position and byte count:
// that is the part of an interrupted write that never became durable, so nothing a Sync
// acknowledged is lost. The leader-epoch cache is trimmed to the recovered log end and
// rebuilt from batch headers if its checkpoint is missing.
//
// If Sync is never called, nothing is guaranteed to survive a crash, and the recovery point
// never moves, so Open rescans every segment.
//
// # Errors
//
// Errors wrap sentinels for the broker to map to Kafka error codes: ErrOffsetOutOfRange,
// ErrStorage (any failed disk operation; the Log stays usable and a failed append leaves no
// partial batch), ErrStaleEpoch, ErrOffsetMismatch, ErrClosed, and batch.ErrCorrupt for
// malformed input.
package wal
