package batch_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
)

// isSentinel reports whether err wraps one of the package's sentinel errors, which the
// broker relies on to pick a Kafka error code.
func isSentinel(err error) bool {
	return errors.Is(err, batch.ErrCorrupt) || errors.Is(err, batch.ErrUnsupportedMagic) || errors.Is(err, batch.ErrInvalidRecord)
}

// FuzzValidate feeds arbitrary bytes to Validate. Seeds live in testdata/fuzz/FuzzValidate.
func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := batch.Validate(b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if h.Size() != len(b) || h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 {
			t.Fatalf("accepted inconsistent header %+v for %d bytes", h, len(b))
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
