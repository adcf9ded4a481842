package batch_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
)

// FuzzWalkRecords feeds arbitrary records sections to WalkRecords, the log cleaner's
// record walk: it must return ErrInvalidRecord or records that tile the input exactly,
// each with its key and value inside its own bytes. Seeds live in
// testdata/fuzz/FuzzWalkRecords.
func FuzzWalkRecords(f *testing.F) {
	f.Fuzz(func(t *testing.T, recs []byte) {
		var joined []byte
		err := batch.WalkRecords(recs, func(r batch.Record) bool {
			joined = append(joined, r.Raw...)
			for _, field := range [][]byte{r.Key, r.Value} {
				if len(field) > 0 && !bytes.Contains(r.Raw, field) {
					t.Fatalf("field %q is not part of its record %q", field, r.Raw)
				}
			}
			if r.NullValue && r.Value != nil {
				t.Fatalf("tombstone with value %q", r.Value)
			}
			return true
		})
		if err != nil {
			if !errors.Is(err, batch.ErrInvalidRecord) {
				t.Fatalf("error %v is not ErrInvalidRecord", err)
			}
			return
		}
		if !bytes.Equal(joined, recs) {
			t.Fatalf("records tile %d of %d bytes", len(joined), len(recs))
		}
	})
}
