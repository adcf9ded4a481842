package batch_test

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
)

// isSentinel reports whether err wraps one of the package's sentinel errors, which the
// broker relies on to pick a Kafka error code.
func isSentinel(err error) bool {
	return errors.Is(err, batch.ErrCorrupt) || errors.Is(err, batch.ErrUnsupportedMagic) || errors.Is(err, batch.ErrInvalidRecord)
}

// FuzzValidate feeds arbitrary bytes to Validate (as ValidateProduced, whose record
// timestamps must match a separate walk's). Seeds live in testdata/fuzz/FuzzValidate.
func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		h, times, err := batch.ValidateProduced(b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if h.Size() != len(b) || h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 {
			t.Fatalf("accepted inconsistent header %+v for %d bytes", h, len(b))
		}
		if h.Compression() == batch.CodecNone {
			// The timestamps the fast walk collected are the records' own.
			newest, err := batch.MaxRecordTimestamp(b[batch.HeaderSize:], h.FirstTimestamp)
			if err != nil || newest != times.Newest {
				t.Fatalf("ValidateProduced's newest timestamp %d, the records' %d (%v)", times.Newest, newest, err)
			}
			oldest := int64(1<<63 - 1)
			_ = batch.RecordTimes(b[batch.HeaderSize:], func(_ int32, d int64) bool { oldest = min(oldest, h.FirstTimestamp+d); return true })
			if oldest != times.Oldest {
				t.Fatalf("ValidateProduced's oldest timestamp %d, the records' %d", times.Oldest, oldest)
			}
		}
		if _, err := batch.CheckIntegrity(b); err != nil {
			t.Fatalf("Validate accepted what CheckIntegrity rejects: %v", err)
		}
		parts, err := batch.Split(b)
		if err != nil || len(parts) != 1 || !bytes.Equal(parts[0], b) {
			t.Fatalf("Split of a valid batch: %d parts, %v", len(parts), err)
		}
	})
}

// FuzzSplit feeds arbitrary bytes to Split. Seeds live in testdata/fuzz/FuzzSplit.
func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		parts, err := batch.Split(b)
		if err != nil {
			if !errors.Is(err, batch.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if joined := bytes.Join(parts, nil); !bytes.Equal(joined, b) {
			t.Fatalf("batches do not add up to the input: %d parts", len(parts))
		}
		for _, p := range parts {
			if len(p) <= 16 {
				t.Fatalf("batch of %d bytes cannot hold a magic byte", len(p))
			}
			// Every split batch must be safe to validate.
			if _, err := batch.Validate(p); err != nil && !isSentinel(err) {
				t.Fatalf("Validate error %v wraps no sentinel", err)
			}
		}
	})
}

// FuzzRecordWalks feeds arbitrary records sections to the walks the partition runs on
// produced records (compressed ones once decompressed): they never panic, every error
// wraps ErrInvalidRecord, and what Validate's record check accepts they walk without
// error; the walk over a reader agrees with the one over a slice. Seeds live in
// testdata/fuzz/FuzzRecordWalks.
func FuzzRecordWalks(f *testing.F) {
	f.Fuzz(func(t *testing.T, recs []byte, firstTimestamp int64) {
		n := int32(0)
		timesErr := batch.RecordTimes(recs, func(int32, int64) bool { n++; return true })
		_, maxErr := batch.MaxRecordTimestamp(recs, firstTimestamp)
		keyless, keyErr := batch.FirstKeyless(recs)
		for _, err := range []error{timesErr, maxErr, keyErr} {
			if err != nil && !errors.Is(err, batch.ErrInvalidRecord) {
				t.Fatalf("error %v does not wrap ErrInvalidRecord", err)
			}
		}
		// The streamed walk (lookups inside compressed batches) sees what the slice walk
		// sees: the same records, and an error where it finds one. It may report one
		// more record, whose head it read before finding the record cut short.
		type pair struct {
			off int32
			ts  int64
		}
		var sliced, streamed []pair
		_ = batch.RecordTimes(recs, func(o int32, ts int64) bool { sliced = append(sliced, pair{o, ts}); return true })
		streamErr := batch.ReadRecordTimes(bufio.NewReaderSize(bytes.NewReader(recs), 16), func(o int32, ts int64) bool {
			streamed = append(streamed, pair{o, ts})
			return true
		})
		if (streamErr == nil) != (timesErr == nil) || (streamErr != nil && !errors.Is(streamErr, batch.ErrInvalidRecord)) {
			t.Fatalf("streamed walk: %v; slice walk: %v", streamErr, timesErr)
		}
		if len(streamed) < len(sliced) || len(streamed) > len(sliced)+1 || (timesErr == nil && len(streamed) != len(sliced)) ||
			!slices.Equal(streamed[:len(sliced)], sliced) {
			t.Fatalf("streamed walk saw %v, slice walk %v", streamed, sliced)
		}
		if batch.CheckRecordsReference(recs, n) == nil {
			if timesErr != nil || maxErr != nil || keyErr != nil || keyless >= int(n) {
				t.Fatalf("well-formed records (%d): walks say %v, %v, %v (keyless %d)", n, timesErr, maxErr, keyErr, keyless)
			}
		}
	})
}
