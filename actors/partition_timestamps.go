package actors

import (
	"bufio"
	"fmt"
	"io"
	"math"

	"github.com/chronik/chronik-node/wal/batch"
)

// recordAt refines a lookup the log answers per batch (by timestamp, max timestamp) to
// the record Kafka answers with: the first record at or after from, in the batch holding
// offset, whose timestamp satisfies match. Compressed batches are decompressed for this.
// A lookup by time starts at the log start (Kafka's searches from logStartOffset); the
// max timestamp lookup looks at the whole batch, records below the log start included
// (RecordBatch.offsetOfMaxTimestamp), and passes -1.
func (a *partitionActor) recordAt(offset, from int64, match func(ts int64) bool) (int64, int64, bool) {
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
		return max(h.BaseOffset, from), h.MaxTimestamp, match(h.MaxTimestamp)
	}
	recs := data[batch.HeaderSize:h.Size()]
	var found bool
	var off, ts int64
	visit := func(offsetDelta int32, tsDelta int64) bool {
		if h.BaseOffset+int64(offsetDelta) < from { // DeleteRecords may have cut into this batch
			return true
		}
		if t := h.FirstTimestamp + tsDelta; match(t) {
			found, off, ts = true, h.BaseOffset+int64(offsetDelta), t
			return false
		}
		return true
	}
	if h.Compression() == batch.CodecNone {
		err = batch.RecordTimes(recs, visit)
	} else {
		// Streamed: a batch stored unchecked because it inflates past the check bound
		// may inflate to gigabytes, and several lookups run at once; decompressed whole,
		// four lookups into such batches held 2.6 GiB.
		err = a.n.inflater.Stream(h.Compression(), recs, lookupInflateLimit, func(r io.Reader) error {
			return batch.ReadRecordTimes(bufio.NewReaderSize(r, 16<<10), visit)
		})
		if err != nil {
			a.log.Warn().Err(err).Int64("offset", h.BaseOffset).Msg("decompress batch for a timestamp lookup")
		}
	}
	return off, ts, found && err == nil
}

// timestampOutOfRange applies message.timestamp.before.max.ms and after.max.ms to a
// CreateTime batch, as Kafka 4 does (the after bound defaults to one hour, so a producer
// whose clock runs ahead gets INVALID_TIMESTAMP). It returns why the batch is refused, or
// "". Kafka checks every record; times spans them (read from the records, decompressed for
// a compressed batch; from the header only for a compressed batch too large to check,
// where a record stamped before the first one is not caught). LogAppendTime topics
// replace the timestamps, so they are not checked.
func (a *partitionActor) timestampOutOfRange(times batch.TimeSpan, nowMs int64) string {
	if a.cfg.logAppendTime {
		return ""
	}
	lo, hi := a.timestampBounds(nowMs)
	switch {
	case times.Newest != -1 && times.Newest > hi:
		return fmt.Sprintf("the batch's newest timestamp %d is out of range: timestamps must be within [%d, %d] (message.timestamp.after.max.ms = %d)",
			times.Newest, lo, hi, a.cfg.timestampAfterMax)
	case times.Oldest != -1 && times.Oldest < lo:
		return fmt.Sprintf("the batch's oldest timestamp %d is out of range: timestamps must be within [%d, %d] (message.timestamp.before.max.ms = %d)",
			times.Oldest, lo, hi, a.cfg.timestampBeforeMax)
	}
	return ""
}

// timestampBounds is the range of timestamps a CreateTime batch's records may carry at
// nowMs. Bounds that would overflow mean no bound; nowMs and the limits are not negative.
func (a *partitionActor) timestampBounds(nowMs int64) (lo, hi int64) {
	lo, hi = nowMs-a.cfg.timestampBeforeMax, int64(math.MaxInt64)
	if a.cfg.timestampAfterMax <= math.MaxInt64-nowMs {
		hi = nowMs + a.cfg.timestampAfterMax
	}
	return lo, hi
}

// recordsOutOfRange names the records of a batch refused by timestampOutOfRange whose
// timestamps are out of bounds, with Kafka's message for each (LogValidator's
// validateTimestamp). It runs only for a batch being refused; a compressed batch too large
// to check has no records at hand, and gets none named.
func (a *partitionActor) recordsOutOfRange(v producedBatch, nowMs int64) []RecordError {
	recs := v.records
	if v.h.Compression() == batch.CodecNone {
		recs = v.b[batch.HeaderSize:]
	}
	if recs == nil {
		return nil
	}
	lo, hi := a.timestampBounds(nowMs)
	var failed []RecordError
	i := int32(0)
	_ = batch.RecordTimes(recs, func(offsetDelta int32, tsDelta int64) bool {
		if ts := v.h.FirstTimestamp + tsDelta; ts != -1 && (ts < lo || ts > hi) {
			failed = append(failed, RecordError{Index: i, Message: fmt.Sprintf(
				"Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
				ts, v.h.BaseOffset+int64(offsetDelta), lo, hi)})
		}
		i++
		return len(failed) < maxRecordErrors
	})
	return failed
}

// stampCreateTime makes a batch bound for a CreateTime topic carry the max timestamp of its
// records, as Kafka's broker does, and returns that timestamp. The timestamp index,
// ListOffsets by time and max timestamp, and time-based retention all read a batch's max
// timestamp; one that understated its newest record (kafkajs writes one when some messages
// carry a timestamp and others do not) made a lookup by time skip that record. times comes
// from validation's walk of the records, so this reads nothing more; for a compressed batch
// too large to check it is the header's own, and only a LogAppendTime bit a client set is
// cleared, which would make consumers read every record's time as the batch's.
func stampCreateTime(b []byte, times batch.TimeSpan) int64 {
	batch.SetCreateTime(b, times.Newest)
	return times.Newest
}
