package actors

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/wal/batch"
)

// refuseKeyless applies Kafka's rule for compacted topics (cleanup.policy containing
// compact) to a produce's validated batch: a record without a key is refused, the
// whole batch with INVALID_RECORD, before anything is written. Compaction keeps the
// newest record of each key; Kafka takes no record it could never keep or remove, and a
// producer that works here must work there. This broker does not compact, but refuses
// what Kafka refuses. A compressed batch is checked in the records validation
// decompressed; one too large to decompress is let through unchecked. It returns the
// error code and message, with every keyless record named as Kafka names them
// (LogValidator.validateKey), or 0.
func (a *partitionActor) refuseKeyless(v producedBatch) (int16, string, []RecordError) {
	recs := v.b[batch.HeaderSize:]
	if v.h.Compression() != batch.CodecNone {
		if recs = v.records; recs == nil {
			return 0, "", nil
		}
	}
	at, err := batch.FirstKeyless(recs)
	switch {
	case err != nil:
		return kerr.InvalidRecord.Code, err.Error(), nil
	case at >= 0:
		return kerr.InvalidRecord.Code, fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s (record %d of the batch).", a.tp, at),
			a.keylessRecords(recs)
	}
	return 0, "", nil
}

// keylessRecords names the records of a refused batch's records section that have no key.
// It runs only for a batch being refused.
func (a *partitionActor) keylessRecords(recs []byte) []RecordError {
	var failed []RecordError
	msg := fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s.", a.tp)
	i := int32(0)
	_ = batch.WalkRecords(recs, func(r batch.Record) bool {
		if r.Key == nil {
			failed = append(failed, RecordError{Index: i, Message: msg})
		}
		i++
		return len(failed) < maxRecordErrors
	})
	return failed
}

// maxRecordErrors bounds the records a refusal names. Kafka names every one, but a
// compressed batch of a megabyte may hold millions of tiny records, and a hundred-byte
// message for each would make the answer hundreds of times the request. Clients fail the
// records not named as part of a refused batch.
const maxRecordErrors = 10000
