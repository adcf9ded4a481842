package producers

import "errors"

// Kafka protocol error codes produced by Check.
const (
	CodeNone                     int16 = 0
	CodeUnknownServerError       int16 = -1
	CodeOutOfOrderSequenceNumber int16 = 45
	CodeInvalidProducerEpoch     int16 = 47
	CodeInvalidRecord            int16 = 87
)

var (
	// ErrOutOfOrderSequence: the batch does not continue the producer's
	// sequence (gap, or an old retry that fell out of the 5-batch window).
	ErrOutOfOrderSequence = errors.New("out of order sequence number")
	// ErrInvalidProducerEpoch: the batch carries an epoch older than the
	// producer's current one; the sender has been fenced.
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch")
	// ErrInvalidSequence: an idempotent batch with a negative sequence number
	// (Kafka's LogValidator rejects it as INVALID_RECORD).
	ErrInvalidSequence = errors.New("invalid sequence number")
	// ErrCorruptSnapshot: a snapshot failed its checksum, structure or
	// version checks. The caller should fall back to an older snapshot.
	ErrCorruptSnapshot = errors.New("corrupt producer state snapshot")
)

// Code maps an error returned by Check to its Kafka error code: 0 for nil,
// 45 / 47 / 87 for the sentinels above, -1 (UNKNOWN_SERVER_ERROR) otherwise.
func Code(err error) int16 {
	switch {
	case err == nil:
		return CodeNone
	case errors.Is(err, ErrOutOfOrderSequence):
		return CodeOutOfOrderSequenceNumber
	case errors.Is(err, ErrInvalidProducerEpoch):
		return CodeInvalidProducerEpoch
	case errors.Is(err, ErrInvalidSequence):
		return CodeInvalidRecord
	default:
		return CodeUnknownServerError
	}
}
