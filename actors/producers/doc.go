// Package producers keeps the idempotent-producer state of one partition and
// applies the rules a Kafka broker enforces on every produced batch
// (KIP-98 idempotence, KIP-360 relaxed sequence checks after state loss).
//
// It is a pure library: no goroutines, no locks, no I/O. A State belongs to
// the single actor that owns the partition; it is not safe for concurrent use.
//
// # Per-batch call pattern
//
// For each batch of a produce request, in request order:
//
//	b := producers.Batch{ProducerID: ..., Epoch: ..., FirstSeq: first,
//		LastSeq: producers.LastSequence(first, numRecords), ...}
//	dup, isDup, err := st.Check(b)
//	switch {
//	case err != nil:
//		// reject this batch: error code producers.Code(err) (45 or 47)
//	case isDup:
//		// do not append; answer success with dup.BaseOffset
//	default:
//		// append to the log, learn BaseOffset/LastOffset, then:
//		b.BaseOffset, b.LastOffset = base, base+int64(lastOffsetDelta)
//		st.Apply(b, nowMs)
//	}
//
// Check never mutates the State, so a batch whose append fails leaves no
// trace. Apply must run before the next batch of the same request is
// checked: a request may carry several batches of one producer for the
// partition, and batch k is only in sequence once batch k-1 is recorded.
//
// # Recovery
//
// The owner periodically stores MarshalSnapshot(nextOffset) in a file named
// after nextOffset. After a restart it loads the newest snapshot that
// UnmarshalSnapshot accepts (on ErrCorruptSnapshot it falls back to an older
// one, or to an empty State and a full scan), then calls Apply for every
// idempotent batch header at or after the snapshot offset, in log order.
// Batch headers do not carry the append time of CreateTime batches, so pass
// the restart time as writeTimeMs: replayed producers then get a full expiry
// period rather than being expired on a client clock (snapshotted producers
// keep their recorded write times). Apply does no validation, exactly like
// the Java broker's replay of its own log. Call Expire afterwards. Retained
// batches below the log start are kept, as the Java broker keeps them, until
// their producer expires: a retry of a deleted batch is still a duplicate.
//
// # Deliberate differences from the Java broker
//
//   - Expiry uses the write time passed to Apply (wall clock of the append)
//     rather than the batch's MaxTimestamp, so a producer sending old
//     CreateTime timestamps is not expired on its first batch.
//   - Transactions (markers, ongoing-transaction protection from expiry) are
//     not modelled.
package producers
