package producers

import "testing"

// BenchmarkCheckApply measures the per-batch hot path: Check then Apply for
// an in-sequence batch, spread over 1000 active producers.
func BenchmarkCheckApply(b *testing.B) {
	const producers = 1000
	s := New()
	seqs := make([]int32, producers)
	offset := int64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pid := int64(i % producers)
		batch := Batch{ProducerID: pid, Epoch: 0, FirstSeq: seqs[pid], LastSeq: LastSequence(seqs[pid], 10),
			BaseOffset: offset, LastOffset: offset + 9, MaxTimestamp: int64(i)}
		if _, isDup, err := s.Check(batch); err != nil || isDup {
			b.Fatalf("batch %d: dup=%v err=%v", i, isDup, err)
		}
		s.Apply(batch, int64(i))
		seqs[pid] = addSequence(batch.LastSeq, 1)
		offset += 10
	}
}

// BenchmarkCheckDuplicate measures answering a retried batch.
func BenchmarkCheckDuplicate(b *testing.B) {
	s := New()
	for i := int32(0); i < RetainedBatches; i++ {
		s.Apply(Batch{ProducerID: 1, FirstSeq: i, LastSeq: i, BaseOffset: int64(i), LastOffset: int64(i)}, 0)
	}
	retry := Batch{ProducerID: 1, FirstSeq: 0, LastSeq: 0}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, isDup, _ := s.Check(retry); !isDup {
			b.Fatal("not a duplicate")
		}
	}
}

func BenchmarkMarshalSnapshot1000(b *testing.B) {
	s := New()
	for pid := int64(0); pid < 1000; pid++ {
		for seq := int32(0); seq < RetainedBatches; seq++ {
			s.Apply(Batch{ProducerID: pid, FirstSeq: seq, LastSeq: seq}, 0)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.MarshalSnapshot(int64(i))
	}
}
