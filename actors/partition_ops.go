package actors

import (
	"time"
)

// Requests a partition actor serves. Each carries the channel its reply goes to and the
// index the caller uses to place the reply; a request handler sends one message per
// partition and collects the replies, so a Kafka request costs one actor message per
// partition, never one per record.

// ProduceRequest appends the record batches a producer sent for one partition.
type ProduceRequest struct {
	Records []byte // one or more record batches, as sent
	Acks    int16
	Index   int
	Reply   chan<- ProduceReply
}

// ProduceReply is the outcome for one partition.
type ProduceReply struct {
	Index          int
	Code           int16
	Message        string
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	// RecordErrors name the records that failed validation, for a batch refused for its
	// records' timestamps or missing keys (Kafka's ProduceResponse v8+ record_errors).
	RecordErrors []RecordError
}

// RecordError names one record of a refused batch: its index in the batch and why.
type RecordError struct {
	Index   int32
	Message string
}

// FetchRequest reads from one partition.
type FetchRequest struct {
	Offset int64
	// MaxBytes bounds the records read, but at least one batch is read if one is there
	// (KIP-74). 0 or less reads nothing: the reply carries the offsets only, for a
	// partition the response has no room left for.
	MaxBytes           int
	CurrentLeaderEpoch int32 // -1 when the client does not know it
	Index              int
	Reply              chan<- FetchReply
	// Alloc, when set, provides the buffer the records are read into (see wal.ReadInto);
	// FetchReply.Records is then a prefix of it.
	Alloc func(n int) []byte
}

// FetchReply carries whole record batches from Offset up to the high watermark.
type FetchReply struct {
	Index          int
	Code           int16
	HighWatermark  int64
	LogStartOffset int64
	LeaderEpoch    int32
	Records        []byte
}

// WatchRequest asks to be told (by closing nothing, sending once on Notify) when the
// high watermark moves past Offset, or at once if it already has. Long-polling fetches
// park this way instead of polling.
type WatchRequest struct {
	Offset   int64
	Deadline time.Time
	Notify   chan<- struct{}
	// Abandoned, when closed, says nobody waits any more (the fetch's client hung up):
	// the partition forgets the watch before its deadline. May be nil.
	Abandoned <-chan struct{}
}

// ListOffsetsRequest resolves a timestamp (or -1 latest, -2 earliest, -3 max timestamp,
// -4 earliest local, -5 latest tiered) to an offset.
type ListOffsetsRequest struct {
	Timestamp          int64
	CurrentLeaderEpoch int32
	Index              int
	Reply              chan<- ListOffsetsReply
}

// ListOffsetsReply is the resolved offset and the timestamp it was found at.
type ListOffsetsReply struct {
	Index       int
	Code        int16
	Offset      int64
	Timestamp   int64
	LeaderEpoch int32
}

// DeleteRecordsRequest moves the log start offset to Offset (-1: the high watermark).
type DeleteRecordsRequest struct {
	Offset int64
	Index  int
	Reply  chan<- DeleteRecordsReply
}

// DeleteRecordsReply is the new low watermark.
type DeleteRecordsReply struct {
	Index        int
	Code         int16
	LowWatermark int64
}

// EpochEndRequest asks for the end offset of a leader epoch (OffsetForLeaderEpoch).
type EpochEndRequest struct {
	LeaderEpoch        int32
	CurrentLeaderEpoch int32
	Index              int
	Reply              chan<- EpochEndReply
}

// EpochEndReply is the largest epoch not above the requested one and where it ends.
type EpochEndReply struct {
	Index       int
	Code        int16
	LeaderEpoch int32
	EndOffset   int64
}
