package wal

import (
	"errors"
	"time"
)

// Config holds the per-topic log settings, with Kafka's names in the comments.
type Config struct {
	// SegmentBytes rolls a new segment when the active one would grow beyond it
	// (segment.bytes). A single batch larger than this still goes into a segment of its own.
	SegmentBytes int64
	// SegmentMs rolls the active segment once its first batch is this old (segment.ms);
	// 0 never rolls by time.
	SegmentMs time.Duration
	// RetentionMs deletes whole inactive segments whose newest timestamp is older than this
	// (retention.ms); negative keeps segments forever. 0 deletes every inactive segment, so
	// start from DefaultConfig rather than the zero Config.
	RetentionMs time.Duration
	// RetentionBytes deletes the oldest whole inactive segments while the log would still
	// hold at least this many bytes without them (retention.bytes); negative is unlimited.
	RetentionBytes int64
	// IndexIntervalBytes is how many bytes of batches lie between two offset index entries
	// (index.interval.bytes).
	IndexIntervalBytes int
}

// Kafka's defaults.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentMs          = 7 * 24 * time.Hour
	DefaultRetentionMs        = 7 * 24 * time.Hour
	DefaultIndexIntervalBytes = 4096
)

// DefaultConfig returns Kafka's default topic settings.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       DefaultSegmentBytes,
		SegmentMs:          DefaultSegmentMs,
		RetentionMs:        DefaultRetentionMs,
		RetentionBytes:     -1,
		IndexIntervalBytes: DefaultIndexIntervalBytes,
	}
}

// normalized replaces settings that cannot work (non-positive sizes) with defaults.
func (c Config) normalized() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentMs < 0 {
		c.SegmentMs = 0
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	return c
}

// Sentinel errors. Errors returned by Log wrap one of these (or a batch package sentinel)
// so the broker can map them to Kafka error codes with errors.Is.
var (
	// ErrOffsetOutOfRange: the offset is below the log start or beyond the log end.
	// Kafka code OFFSET_OUT_OF_RANGE.
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrStorage: a disk operation failed (or on-disk data is unreadable). The Log stays
	// usable; the failed operation changed nothing. Kafka code KAFKA_STORAGE_ERROR.
	ErrStorage = errors.New("storage error")
	// ErrDamaged: Open found data a completed Sync had made durable damaged on disk. It
	// always comes wrapped together with ErrStorage. Unlike a full disk, it does not go
	// away by itself: only an operator repairing or removing the files cures it, so
	// opening again at once is pointless (and rescans the segment each time).
	ErrDamaged = errors.New("log damaged")
	// ErrFlushFailed: an fdatasync of written data failed. It always comes wrapped together
	// with ErrStorage. The kernel may have dropped the pages it could not write, so what
	// was written before is not known to be on disk, and no later fdatasync that succeeds
	// makes it so: the partition must take no more writes until it is reopened (scanned)
	// from disk. Other Sync failures (a file or directory that could not be opened, an
	// index or checkpoint not written) leave the data's fate unchanged, and a later Sync
	// retries them.
	ErrFlushFailed = errors.New("flushing data to disk failed")
	// ErrStaleEpoch: a batch carries a leader epoch older than the newest one in the log.
	// Kafka code FENCED_LEADER_EPOCH.
	ErrStaleEpoch = errors.New("leader epoch older than the log's latest")
	// ErrOffsetMismatch: replicated batches do not continue the log at its end offset.
	ErrOffsetMismatch = errors.New("batch offsets do not continue the log")
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("log closed")
)
