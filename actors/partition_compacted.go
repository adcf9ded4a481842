package actors

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik/chronik-node/wal/batch"
)

// refuseKeyless applies Kafka's rule for compacted topics (cleanup.policy containing
// compact) to a produce's validated batches: a record without a key is refused, the
// whole request with INVALID_RECORD, before anything is written. Compaction keeps the
// newest record of each key; Kafka takes no record it could never keep or remove, and a
// producer that works here must work there. This broker does not compact, but refuses
// what Kafka refuses. Compressed batches are decompressed for the check, on compacted
// topics only. It returns the error code and message, or 0.
func (a *partitionActor) refuseKeyless(batches [][]byte, headers []batch.Header) (int16, string) {
	for i, b := range batches {
		h := headers[i]
		recs := b[batch.HeaderSize:h.Size()]
		if h.Compression() != batch.CodecNone {
			var err error
			if recs, err = a.n.decompressor.Decompress(recs, kgo.CompressionCodecType(h.Compression())); err != nil {
				return kerr.CorruptMessage.Code, fmt.Sprintf("batch %d does not decompress: %v", i, err)
			}
		}
		at, err := batch.FirstKeyless(recs)
		switch {
		case err != nil:
			return kerr.InvalidRecord.Code, fmt.Sprintf("batch %d: %v", i, err)
		case at >= 0:
			return kerr.InvalidRecord.Code, fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s (record %d of batch %d).", a.tp, at, i)
		}
	}
	return 0, ""
}
