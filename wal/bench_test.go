package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// benchShapes are ~16 KiB batches, the shape a busy producer sends.
var benchShapes = []struct {
	name        string
	records, sz int
}{
	{"1KiB-records", 16, 1024},
	{"100B-records", 150, 100},
}

func benchLog(b *testing.B) *Log {
	b.Helper()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 256 << 20
	l, err := Open(b.TempDir(), cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func benchBatch(records, size int) []byte {
	return batchtest.Build(batchtest.DefaultOptions(t0.UnixMilli()), batchtest.Values(records, size))
}

// BenchmarkAppend measures appends into the page cache: no sync.
func BenchmarkAppend(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			l := benchLog(b)
			one := benchBatch(s.records, s.sz)
			b.SetBytes(int64(len(one)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Append(one, 0, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendSyncEvery makes every batch durable before the next: acks=all with one
// producer and no group commit.
func BenchmarkAppendSyncEvery(b *testing.B) {
	l := benchLog(b)
	one := benchBatch(16, 1024)
	b.SetBytes(int64(len(one)))
	for b.Loop() {
		if _, err := l.Append(one, 0, t0); err != nil {
			b.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGroupCommit has N producers waiting for durability through one owner and one
// syncer: concurrent appends share fdatasyncs.
func BenchmarkGroupCommit(b *testing.B) {
	for _, producers := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("producers-%d", producers), func(b *testing.B) {
			l := benchLog(b)
			g := startGroupCommit(l)
			template := benchBatch(16, 1024)
			b.SetBytes(int64(len(template)))
			work := make(chan struct{}, b.N)
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						// Each producer owns its buffer: Append patches it in place.
						if _, err := g.produce(append([]byte(nil), template...)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			g.stop()
			b.ReportMetric(float64(b.N)/float64(max(g.syncs.Load(), 1)), "batches/sync")
		})
	}
}

// BenchmarkRead fetches a 64 MiB log sequentially in 1 MiB reads from the page cache.
func BenchmarkRead(b *testing.B) {
	l := benchLog(b)
	one := benchBatch(16, 1024)
	for l.Size() < 64<<20 {
		if _, err := l.Append(one, 0, t0); err != nil {
			b.Fatal(err)
		}
	}
	off, total := int64(0), int64(0)
	b.ResetTimer()
	for b.Loop() {
		if off >= l.EndOffset() {
			off = 0
		}
		data, err := l.Read(off, l.EndOffset(), 1<<20)
		if err != nil || len(data) == 0 {
			b.Fatalf("Read(%d): %d bytes, %v", off, len(data), err)
		}
		h := lastHeader(b, data)
		off = h + 1
		total += int64(len(data))
	}
	b.SetBytes(total / int64(b.N))
}

// lastHeader returns the last offset in data, a run of whole batches.
func lastHeader(b *testing.B, data []byte) int64 {
	parts, err := batch.Split(data)
	if err != nil {
		b.Fatal(err)
	}
	h, err := batch.ParseHeader(parts[len(parts)-1])
	if err != nil {
		b.Fatal(err)
	}
	return h.LastOffset()
}

// BenchmarkDiskLimit is the physical limit the log is compared against: sequential writes
// plus fdatasync on a bare file in the same directory kind, no log code at all.
func BenchmarkDiskLimit(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 10} {
		b.Run(fmt.Sprintf("write-%dKiB-fdatasync", size>>10), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "bare"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, size)
			for i := range buf {
				buf[i] = byte(i)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := datasync(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScanHeaders measures reading every batch header of a log, as the producer
// state rebuild after a crash and each clean of a compacted topic do: one-record batches
// (a producer that does not batch) and ~16 KiB ones.
func BenchmarkScanHeaders(b *testing.B) {
	for _, s := range []struct {
		name        string
		records, sz int
		batches     int
	}{
		{"1-record-batches", 1, 100, 100_000},
		{"16KiB-batches", 16, 1024, 10_000},
	} {
		b.Run(s.name, func(b *testing.B) {
			l := benchLog(b)
			one := benchBatch(s.records, s.sz)
			for range s.batches {
				if _, err := l.Append(one, 0, t0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.batches), "batches/op")
			for b.Loop() {
				n := 0
				if err := l.ScanHeaders(0, func(batch.Header) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if n != s.batches {
					b.Fatalf("scanned %d headers, want %d", n, s.batches)
				}
			}
		})
	}
}
