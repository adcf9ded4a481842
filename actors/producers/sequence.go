package producers

import "math"

// LastSequence returns the sequence number of the last record of a batch of
// numRecords records starting at firstSeq. Sequences wrap from MaxInt32 to 0,
// as in Kafka's DefaultRecordBatch.incrementSequence. numRecords must be at
// least 1 (the caller has already validated the batch header).
func LastSequence(firstSeq, numRecords int32) int32 {
	return addSequence(firstSeq, int64(numRecords)-1)
}

// addSequence adds delta to seq modulo 2^31 (sequences are never negative).
func addSequence(seq int32, delta int64) int32 {
	const period = int64(math.MaxInt32) + 1
	v := (int64(seq) + delta) % period
	if v < 0 {
		v += period
	}
	return int32(v)
}

// inSequence reports whether next directly follows last.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}
