package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// benchStorage opens a backend for benchmarks. "bolt" fsyncs every commit, as in
// production; "bolt-nosync" shows what the fsync costs.
func benchStorage(b *testing.B, mode string, cacheEntries int) Storage {
	b.Helper()
	switch mode {
	case "memory":
		return NewMemory()
	case "bolt":
		return openTestBolt(b, tempDBPath(b), BoltOptions{TailCacheEntries: cacheEntries})
	case "bolt-nosync":
		return openTestBolt(b, tempDBPath(b), BoltOptions{NoSync: true, TailCacheEntries: cacheEntries})
	}
	b.Fatalf("unknown mode %q", mode)
	return nil
}

// benchEntries builds [from, from+n) with ~200-byte payloads, like metadata commands.
func benchEntries(from uint64, n int, payload []byte) []*raftpb.Entry {
	out := make([]*raftpb.Entry, n)
	for k := range out {
		out[k] = &raftpb.Entry{Index: new(from + uint64(k)), Term: new(uint64(1)),
			Type: raftpb.EntryNormal.Enum(), Data: payload}
	}
	return out
}

func benchPayload() []byte {
	p := make([]byte, 200)
	for k := range p {
		p[k] = byte(rand.IntN(256))
	}
	return p
}

// BenchmarkSave measures one Save (a MsgStorageAppend: entries plus hard state): the
// RaftStorage append latency. ns/op is per Save; entries/s is the throughput.
func BenchmarkSave(b *testing.B) {
	for _, mode := range []string{"memory", "bolt", "bolt-nosync"} {
		for _, batch := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", mode, batch), func(b *testing.B) {
				benchSave(b, benchStorage(b, mode, 0), batch)
			})
		}
	}
}

func benchSave(b *testing.B, s Storage, batch int) {
	payload := benchPayload()
	// Entries are built and the log compacted outside the timer, a chunk at a time, so
	// the measurement is Save alone and memory stays bounded.
	const chunkEntries = 1 << 14
	var (
		last    uint64
		pending []*raftpb.Entry
	)
	refill := func() {
		if last > 0 {
			if _, err := s.CreateSnapshot(last, &raftpb.ConfState{Voters: []uint64{1}}, nil); err != nil {
				b.Fatal(err)
			}
			if err := s.Compact(last); err != nil {
				b.Fatal(err)
			}
		}
		pending = benchEntries(last+1, max(chunkEntries/batch, 1)*batch, payload)
	}
	refill()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if len(pending) == 0 {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		ents := pending[:batch]
		pending = pending[batch:]
		last = ents[batch-1].GetIndex()
		if err := s.Save(hardState(1, 1, last), ents, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkEntries reads ranges of a 20k-entry log: "tail" ranges are what replication
// and apply usually ask for (in bolt's cache), "cold" ranges start 10k entries back (from
// the file for bolt).
func BenchmarkEntries(b *testing.B) {
	const logLen = 20000
	for _, mode := range []string{"memory", "bolt"} {
		s := benchStorage(b, mode, 0)
		payload := benchPayload()
		for from := uint64(1); from <= logLen; from += 1000 {
			mustSave(b, s, nil, benchEntries(from, 1000, payload), nil)
		}
		for _, where := range []string{"tail", "cold"} {
			base := uint64(logLen - 500)
			if where == "cold" {
				base = logLen / 2
			}
			for _, n := range []uint64{1, 64} {
				b.Run(fmt.Sprintf("%s/%s/range=%d", mode, where, n), func(b *testing.B) {
					b.ReportAllocs()
					for k := 0; b.Loop(); k++ {
						lo := base + uint64(k%400)
						ents, err := s.Entries(lo, lo+n, noLimit)
						if err != nil || uint64(len(ents)) != n {
							b.Fatalf("Entries(%d, %d): %d entries, %v", lo, lo+n, len(ents), err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkTerm shows Term answering from memory on both backends.
func BenchmarkTerm(b *testing.B) {
	for _, mode := range []string{"memory", "bolt"} {
		b.Run(mode, func(b *testing.B) {
			s := benchStorage(b, mode, 0)
			for term := uint64(1); term <= 20; term++ {
				ents := benchEntries((term-1)*500+1, 500, nil)
				for _, e := range ents {
					e.Term = new(term)
				}
				mustSave(b, s, nil, ents, nil)
			}
			for k := 0; b.Loop(); k++ {
				if _, err := s.Term(uint64(1 + k%10000)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
