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
// error code and message, or 0.
func (a *partitionActor) refuseKeyless(v producedBatch) (int16, string) {
	recs := v.b[batch.HeaderSize:]
	if v.h.Compression() != batch.CodecNone {
		if recs = v.records; recs == nil {
			return 0, ""
		}
	}
	at, err := batch.FirstKeyless(recs)
	switch {
	case err != nil:
		return kerr.InvalidRecord.Code, err.Error()
	case at >= 0:
		return kerr.InvalidRecord.Code, fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s (record %d of the batch).", a.tp, at)
	}
	return 0, ""
}
