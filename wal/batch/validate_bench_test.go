package batch_test

import (
	"fmt"
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// BenchmarkValidate measures Validate on an uncompressed batch of 1000 records shaped like a
// franz-go producer's (null key, no headers, one value each) with 100 B and 1 KiB values,
// and the two record walks alone: the fast one Validate runs and the reference one it
// replaced on the hot path. Validate also pays for the CRC, which grows with the value size.
// Compare the ns/record column.
func BenchmarkValidate(b *testing.B) {
	const n = 1000
	for _, size := range []int{100, 1024} {
		built := batchtest.Build(batchtest.DefaultOptions(1_700_000_000_000), batchtest.Values(n, size))
		recs := built[batch.HeaderSize:]
		run := func(name string, check func() error) {
			b.Run(fmt.Sprintf("value=%dB/%s", size, name), func(b *testing.B) {
				b.SetBytes(int64(len(built)))
				for b.Loop() {
					if err := check(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
			})
		}
		run("Validate", func() error { _, err := batch.Validate(built); return err })
		run("fastwalk", func() error {
			if !batch.RecordsWellFormed(recs, n) {
				return fmt.Errorf("fast walk rejects a valid batch")
			}
			return nil
		})
		run("reference", func() error { return batch.CheckRecordsReference(recs, n) })
	}
}
