package actors

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik/chronik-node/wal/batch"
)

// recordAt refines a lookup the log answers per batch (by timestamp, max timestamp) to
// the record Kafka answers with: the first record, in the batch holding offset, whose
// timestamp satisfies match. Compressed batches are decompressed for this, and only for
// this: produce and fetch never decompress.
func (a *partitionActor) recordAt(offset int64, match func(ts int64) bool) (int64, int64, bool) {
	data, err := a.wal.Read(offset, a.hw, 1)
	if err != nil || len(data) < batch.HeaderSize {
		return 0, 0, false
	}
	h, err := batch.ParseHeader(data)
	if err != nil || h.Size() > len(data) {
		return 0, 0, false
	}
	if h.LogAppendTime() {
		// Every record of a LogAppendTime batch carries the batch's timestamp.
		return max(h.BaseOffset, a.wal.StartOffset()), h.MaxTimestamp, match(h.MaxTimestamp)
	}
	recs := data[batch.HeaderSize:h.Size()]
	if h.Compression() != batch.CodecNone {
		if recs, err = a.n.decompressor.Decompress(recs, kgo.CompressionCodecType(h.Compression())); err != nil {
			a.log.Warn().Err(err).Int64("offset", h.BaseOffset).Msg("decompress batch for a timestamp lookup")
			return 0, 0, false
		}
	}
	var found bool
	var off, ts int64
	start := a.wal.StartOffset() // DeleteRecords may have cut into this batch
	err = batch.RecordTimes(recs, func(offsetDelta int32, tsDelta int64) bool {
		if h.BaseOffset+int64(offsetDelta) < start {
			return true
		}
		if t := h.FirstTimestamp + tsDelta; match(t) {
			found, off, ts = true, h.BaseOffset+int64(offsetDelta), t
			return false
		}
		return true
	})
	return off, ts, found && err == nil
}
