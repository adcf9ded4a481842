package actors

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/codec"
)

// How far the broker decompresses a batch's records.
const (
	// checkInflateLimit bounds what a produce decompresses to check a compressed batch's
	// records. Clients' batches decompress to a few MiB at most (franz-go and librdkafka
	// cap a batch near 1 MB before compressing it); a batch that would decompress to more
	// is stored unchecked, with its header's timestamps taken on trust, rather than
	// refused: Kafka, which checks it as a stream, would take it.
	checkInflateLimit = 32 << 20
	// lookupInflateLimit bounds how far a lookup by timestamp reads into a stored batch's
	// records, decompressing them as a stream (it holds none of them), to find a record;
	// past it the lookup answers with the batch's first offset. It bounds the work, not
	// memory.
	lookupInflateLimit = 256 << 20
)

// CompressionStats counts what produces did with compressed records since the node started.
type CompressionStats struct {
	Checked      uint64 // compressed batches decompressed and their records checked
	Unchecked    uint64 // compressed batches stored unchecked: past checkInflateLimit
	Refused      uint64 // compressed batches refused: not decompressing, or not matching the header
	Recompressed uint64 // batches rewritten in the codec their topic's compression.type names
}

type compressionCounters struct{ checked, unchecked, refused, recompressed atomic.Uint64 }

// CompressionStats returns the node's compression counters.
func (n *Node) CompressionStats() CompressionStats {
	c := &n.metrics.compression
	return CompressionStats{Checked: c.checked.Load(), Unchecked: c.unchecked.Load(), Refused: c.refused.Load(), Recompressed: c.recompressed.Load()}
}

// producedBatch is a batch a produce has validated.
type producedBatch struct {
	b     []byte       // the batch, to be written
	h     batch.Header // its header as the producer sent it
	times batch.TimeSpan
	// records is a compressed batch's records section, decompressed; nil for an
	// uncompressed batch (its records are in b) and for one too large to check.
	// It is a reused buffer, and holds one of the node's checking slots: the produce
	// hands both back with releaseRecords once done.
	records []byte
}

// releaseRecords hands back v's decompressed records and the checking slot they hold.
func (a *partitionActor) releaseRecords(v producedBatch) {
	if v.records == nil {
		return
	}
	a.n.inflater.Release(v.records)
	<-a.n.checking
}

// checkCompressed decompresses v's records and checks them as Kafka's broker does for a
// compressed batch: they must decompress, and be exactly the declared number of
// well-formed records. Their timestamps replace the header's in v.times, so the timestamp
// bounds and the stored max timestamp hold for compressed batches as for uncompressed ones.
// It returns the error code and message of a refusal, or 0. A refused batch is the
// producer's own doing (the CRC held), so the code is INVALID_RECORD, which producers do
// not retry.
func (a *partitionActor) checkCompressed(v *producedBatch) (int16, string) {
	counts := &a.n.metrics.compression
	a.n.checking <- struct{}{}
	recs, err := a.n.inflater.Decompress(v.h.Compression(), v.b[batch.HeaderSize:], checkInflateLimit)
	switch {
	case errors.Is(err, codec.ErrTooLarge):
		<-a.n.checking
		counts.unchecked.Add(1)
		return 0, ""
	case err != nil:
		<-a.n.checking
		counts.refused.Add(1)
		return kerr.InvalidRecord.Code, fmt.Sprintf("the batch's records do not decompress: %v", err)
	}
	if recs == nil {
		recs = []byte{} // records held, however few: releaseRecords frees the slot
	}
	times, err := batch.ValidateRecords(v.h, recs)
	if err != nil {
		a.n.inflater.Release(recs)
		<-a.n.checking
		counts.refused.Add(1)
		return kerr.InvalidRecord.Code, fmt.Sprintf("in the decompressed records: %v", err)
	}
	counts.checked.Add(1)
	v.records, v.times = recs, times
	return 0, ""
}

// recompress rewrites v's batch in the topic's compression.type codec, as Kafka's broker
// does when that names a codec other than the batch's. It returns the batch to store (v's
// own when there is nothing to do) or a refusal's code and message. A compressed batch
// too large to decompress is stored as the producer sent it: there are no records to
// recompress.
func (a *partitionActor) recompress(v producedBatch) ([]byte, int16, string) {
	target := a.cfg.compression
	if target == keepCodec || target == v.h.Compression() {
		return v.b, 0, ""
	}
	recs := v.b[batch.HeaderSize:]
	if v.h.Compression() != batch.CodecNone {
		if recs = v.records; recs == nil {
			return v.b, 0, ""
		}
	}
	out := make([]byte, batch.HeaderSize, batch.HeaderSize+len(recs))
	copy(out, v.b)
	if target == batch.CodecNone {
		out = append(out, recs...)
	} else {
		var err error
		if out, err = a.n.compressor.Compress(target, a.cfg.levels, recs, out); err != nil {
			return nil, kerr.UnknownServerError.Code, fmt.Sprintf("recompress the batch for compression.type: %v", err)
		}
	}
	batch.Reseal(out, target)
	a.n.metrics.compression.recompressed.Add(1)
	if len(out) > a.cfg.maxMessageBytes {
		// As in Kafka, the limit applies to the batch as stored.
		return nil, kerr.MessageTooLarge.Code, fmt.Sprintf("batch of %d bytes recompressed for compression.type exceeds max.message.bytes %d", len(out), a.cfg.maxMessageBytes)
	}
	return out, 0, ""
}

// checkSlots is how many produces may hold decompressed records at once within memory
// bytes (0: no bound but the CPUs'): two per CPU at most, and at least one.
func checkSlots(memory int64, procs int) int {
	slots := 2 * procs
	if memory > 0 {
		slots = int(min(int64(slots), max(1, memory/checkInflateLimit)))
	}
	return slots
}
