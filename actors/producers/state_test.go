package producers

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

// fakeLog hands out offsets the way a partition log would, so tests can
// drive Check/Apply exactly as the partition actor does.
type fakeLog struct {
	t    *testing.T
	s    *State
	next int64
	now  int64
}

func newFakeLog(t *testing.T) *fakeLog {
	return &fakeLog{t: t, s: New(), now: 1_000}
}

func mk(pid int64, epoch int16, firstSeq, numRecords int32) Batch {
	return Batch{ProducerID: pid, Epoch: epoch, FirstSeq: firstSeq, LastSeq: LastSequence(firstSeq, numRecords)}
}

// produce runs the documented call pattern for one batch and returns what the
// client would be told: base offset (original one for a duplicate) and error.
func (l *fakeLog) produce(b Batch, numRecords int32) (base int64, isDup bool, err error) {
	dup, isDup, err := l.s.Check(b)
	if err != nil {
		return -1, false, err
	}
	if isDup {
		return dup.BaseOffset, true, nil
	}
	b.BaseOffset = l.next
	b.LastOffset = l.next + int64(numRecords) - 1
	b.MaxTimestamp = l.now
	l.next += int64(numRecords)
	l.s.Apply(b, l.now)
	return b.BaseOffset, false, nil
}

// mustAppend produces a batch that must be appended (not a dup, no error).
func (l *fakeLog) mustAppend(pid int64, epoch int16, firstSeq, numRecords int32) int64 {
	l.t.Helper()
	base, isDup, err := l.produce(mk(pid, epoch, firstSeq, numRecords), numRecords)
	if err != nil || isDup {
		l.t.Fatalf("append pid %d epoch %d seq %d: dup=%v err=%v", pid, epoch, firstSeq, isDup, err)
	}
	return base
}

func TestCheckRules(t *testing.T) {
	type setupBatch struct {
		pid      int64
		epoch    int16
		firstSeq int32
		n        int32
	}
	const pid = 7
	tests := []struct {
		name    string
		setup   []setupBatch
		probe   Batch
		wantErr error
		wantDup int64 // base offset of the duplicate, -1 when not a dup
	}{
		{name: "new producer at seq 0", probe: mk(pid, 0, 0, 1), wantDup: -1},
		{name: "new producer at nonzero seq (KIP-360)", probe: mk(pid, 0, 42, 3), wantDup: -1},
		{name: "new producer at nonzero epoch and seq", probe: mk(pid, 9, 17, 1), wantDup: -1},
		{
			name:    "in sequence",
			setup:   []setupBatch{{pid, 0, 0, 5}},
			probe:   mk(pid, 0, 5, 2),
			wantDup: -1,
		},
		{
			name:    "gap",
			setup:   []setupBatch{{pid, 0, 0, 5}},
			probe:   mk(pid, 0, 6, 1),
			wantErr: ErrOutOfOrderSequence, wantDup: -1,
		},
		{
			name:    "sequence going backwards but not a retained batch",
			setup:   []setupBatch{{pid, 0, 0, 5}},
			probe:   mk(pid, 0, 3, 1),
			wantErr: ErrOutOfOrderSequence, wantDup: -1,
		},
		{
			name:    "same first sequence, different record count is not a duplicate",
			setup:   []setupBatch{{pid, 0, 0, 5}},
			probe:   mk(pid, 0, 0, 4),
			wantErr: ErrOutOfOrderSequence, wantDup: -1,
		},
		{
			name:    "duplicate of the only batch",
			setup:   []setupBatch{{pid, 0, 0, 5}},
			probe:   mk(pid, 0, 0, 5),
			wantDup: 0,
		},
		{
			name:    "retry older than the last 5 batches",
			setup:   []setupBatch{{pid, 0, 0, 1}, {pid, 0, 1, 1}, {pid, 0, 2, 1}, {pid, 0, 3, 1}, {pid, 0, 4, 1}, {pid, 0, 5, 1}},
			probe:   mk(pid, 0, 0, 1),
			wantErr: ErrOutOfOrderSequence, wantDup: -1,
		},
		{
			name:    "stale epoch",
			setup:   []setupBatch{{pid, 2, 0, 1}},
			probe:   mk(pid, 1, 1, 1),
			wantErr: ErrInvalidProducerEpoch, wantDup: -1,
		},
		{
			name:    "retry of a batch from a fenced epoch",
			setup:   []setupBatch{{pid, 1, 0, 1}, {pid, 2, 0, 1}},
			probe:   mk(pid, 1, 0, 1),
			wantErr: ErrInvalidProducerEpoch, wantDup: -1,
		},
		{
			name:    "epoch bump at seq 0",
			setup:   []setupBatch{{pid, 1, 0, 10}},
			probe:   mk(pid, 2, 0, 1),
			wantDup: -1,
		},
		{
			name:    "epoch bump at seq 5",
			setup:   []setupBatch{{pid, 1, 0, 5}},
			probe:   mk(pid, 2, 5, 1),
			wantErr: ErrOutOfOrderSequence, wantDup: -1,
		},
		{
			name:    "higher epoch at nonzero seq when the current epoch is unknown",
			setup:   []setupBatch{{pid, NoEpoch, 0, 3}},
			probe:   mk(pid, 0, 9, 1),
			wantDup: -1,
		},
		{
			name:    "epoch bump discards the old epoch's batches",
			setup:   []setupBatch{{pid, 1, 0, 1}, {pid, 1, 1, 1}, {pid, 2, 0, 1}},
			probe:   mk(pid, 2, 1, 1), // in sequence for epoch 2, not a dup of epoch 1's [1,1]
			wantDup: -1,
		},
		{
			name:    "duplicate after epoch bump answers the new epoch's offset",
			setup:   []setupBatch{{pid, 1, 0, 1}, {pid, 2, 0, 1}},
			probe:   mk(pid, 2, 0, 1),
			wantDup: 1,
		},
		{
			name:    "last sequence MaxInt32 is followed by 0",
			setup:   []setupBatch{{pid, 0, math.MaxInt32 - 2, 3}},
			probe:   mk(pid, 0, 0, 1),
			wantDup: -1,
		},
		{
			name:    "batch spanning the wrap is followed by its continuation",
			setup:   []setupBatch{{pid, 0, math.MaxInt32 - 1, 4}}, // MaxInt32-1, MaxInt32, 0, 1
			probe:   mk(pid, 0, 2, 1),
			wantDup: -1,
		},
		{
			name:    "negative sequence after the wrap point",
			setup:   []setupBatch{{pid, 0, math.MaxInt32 - 2, 3}},
			probe:   Batch{ProducerID: pid, FirstSeq: math.MinInt32, LastSeq: math.MinInt32},
			wantErr: ErrInvalidSequence, wantDup: -1,
		},
		{
			name:    "duplicate of a batch spanning the wrap",
			setup:   []setupBatch{{pid, 0, math.MaxInt32 - 1, 4}},
			probe:   mk(pid, 0, math.MaxInt32-1, 4),
			wantDup: 0,
		},
		{
			name:    "non-idempotent batch skips every check",
			setup:   []setupBatch{{pid, 5, 0, 1}},
			probe:   Batch{ProducerID: -1, Epoch: -1, FirstSeq: -1, LastSeq: -1},
			wantDup: -1,
		},
		{
			name:    "other producers do not interfere",
			setup:   []setupBatch{{pid, 5, 0, 10}, {pid + 1, 0, 0, 1}},
			probe:   mk(pid+1, 0, 1, 1),
			wantDup: -1,
		},
		{
			name:    "negative sequence on an idempotent batch",
			probe:   Batch{ProducerID: pid, FirstSeq: -1, LastSeq: 0},
			wantErr: ErrInvalidSequence, wantDup: -1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newFakeLog(t)
			for _, sb := range tc.setup {
				l.mustAppend(sb.pid, sb.epoch, sb.firstSeq, sb.n)
			}
			before := l.s.Producers()
			dup, isDup, err := l.s.Check(tc.probe)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Check error = %v, want %v", err, tc.wantErr)
			}
			if isDup != (tc.wantDup >= 0) {
				t.Fatalf("isDup = %v, want dup at %d", isDup, tc.wantDup)
			}
			if isDup && dup.BaseOffset != tc.wantDup {
				t.Fatalf("dup base offset = %d, want %d", dup.BaseOffset, tc.wantDup)
			}
			if after := l.s.Producers(); !reflect.DeepEqual(before, after) {
				t.Fatalf("Check mutated state:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestDuplicateOfEachRetainedBatch(t *testing.T) {
	l := newFakeLog(t)
	const pid = 3
	l.mustAppend(99, 0, 0, 4) // another producer shifts offsets
	type sent struct {
		first, n int32
		base     int64
	}
	var batches []sent
	seq := int32(0)
	for i := 0; i < 7; i++ {
		n := int32(i + 1)
		batches = append(batches, sent{seq, n, l.mustAppend(pid, 0, seq, n)})
		seq += n
	}
	// The last RetainedBatches batches are answered with their original offsets.
	for _, b := range batches[len(batches)-RetainedBatches:] {
		base, isDup, err := l.produce(mk(pid, 0, b.first, b.n), b.n)
		if err != nil || !isDup || base != b.base {
			t.Errorf("retry of seq %d: base=%d dup=%v err=%v, want dup at %d", b.first, base, isDup, err, b.base)
		}
	}
	// Older ones fell out of the window.
	for _, b := range batches[:len(batches)-RetainedBatches] {
		_, _, err := l.produce(mk(pid, 0, b.first, b.n), b.n)
		if Code(err) != CodeOutOfOrderSequenceNumber {
			t.Errorf("retry of evicted seq %d: err=%v, want OUT_OF_ORDER_SEQUENCE_NUMBER", b.first, err)
		}
	}
	// Duplicates were not appended: the producer continues where it was.
	if got := l.mustAppend(pid, 0, seq, 1); got != l.next-1 {
		t.Fatalf("next append at %d, want %d", got, l.next-1)
	}
}

// Several batches of one producer in one produce request: each must be
// checked after the previous one is applied.
func TestBatchesInOneRequestAreCheckedInOrder(t *testing.T) {
	s := New()
	s.Apply(Batch{ProducerID: 1, FirstSeq: 0, LastSeq: 1, BaseOffset: 0, LastOffset: 1}, 0)
	req := []Batch{mk(1, 0, 2, 2), mk(1, 0, 4, 2), mk(1, 0, 6, 2)}

	// Checking batch 1 before batch 0 is applied rejects it: this is why
	// the caller must interleave Check and Apply.
	if _, _, err := s.Check(req[1]); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("batch 1 checked before batch 0 was applied: %v, want OUT_OF_ORDER", err)
	}

	offset := int64(2)
	for i, b := range req {
		if _, isDup, err := s.Check(b); err != nil || isDup {
			t.Fatalf("batch %d: dup=%v err=%v", i, isDup, err)
		}
		b.BaseOffset, b.LastOffset = offset, offset+1
		offset += 2
		s.Apply(b, 0)
	}
	// A retry of the whole request is all duplicates with the original offsets.
	for i, b := range req {
		dup, isDup, err := s.Check(b)
		if err != nil || !isDup || dup.BaseOffset != int64(2+2*i) {
			t.Fatalf("retry of batch %d: %+v dup=%v err=%v", i, dup, isDup, err)
		}
	}
}

func TestNonIdempotentBatchesAreNotRecorded(t *testing.T) {
	s := New()
	for i := 0; i < 3; i++ {
		b := Batch{ProducerID: -1, Epoch: -1, FirstSeq: -1, LastSeq: -1, BaseOffset: int64(i), LastOffset: int64(i)}
		if _, isDup, err := s.Check(b); err != nil || isDup {
			t.Fatalf("non-idempotent batch %d: dup=%v err=%v", i, isDup, err)
		}
		s.Apply(b, 0)
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after non-idempotent batches, want 0", s.Len())
	}
}

func TestRejectedBatchLeavesNoTrace(t *testing.T) {
	l := newFakeLog(t)
	l.mustAppend(1, 0, 0, 1)
	if _, _, err := l.produce(mk(1, 0, 5, 1), 1); Code(err) != CodeOutOfOrderSequenceNumber {
		t.Fatalf("gap: %v", err)
	}
	if _, _, err := l.produce(mk(1, 1, 3, 1), 1); Code(err) != CodeOutOfOrderSequenceNumber {
		t.Fatalf("bad epoch bump: %v", err)
	}
	// The producer still continues at 1 with epoch 0.
	l.mustAppend(1, 0, 1, 1)
}

func TestLastSequence(t *testing.T) {
	tests := []struct {
		first, n, want int32
	}{
		{0, 1, 0},
		{0, 5, 4},
		{10, 3, 12},
		{math.MaxInt32, 1, math.MaxInt32},
		{math.MaxInt32, 2, 0},
		{math.MaxInt32 - 1, 4, 1},
		{math.MaxInt32, math.MaxInt32, math.MaxInt32 - 2},
	}
	for _, tc := range tests {
		if got := LastSequence(tc.first, tc.n); got != tc.want {
			t.Errorf("LastSequence(%d, %d) = %d, want %d", tc.first, tc.n, got, tc.want)
		}
	}
}

func TestExpire(t *testing.T) {
	s := New()
	s.Apply(Batch{ProducerID: 1, FirstSeq: 0, LastSeq: 9}, 1_000)
	s.Apply(Batch{ProducerID: 2, FirstSeq: 0, LastSeq: 0}, 5_000)
	s.Apply(Batch{ProducerID: 1, FirstSeq: 10, LastSeq: 10}, 2_000) // refreshes producer 1

	if n := s.Expire(7_999, 6_000); n != 0 {
		t.Fatalf("Expire at 7999 dropped %d, want 0", n)
	}
	if n := s.Expire(8_000, 6_000); n != 1 {
		t.Fatalf("Expire at 8000 dropped %d, want 1 (producer 1, idle exactly 6000ms)", n)
	}
	if _, ok := s.Producer(1); ok {
		t.Fatal("producer 1 still present after expiry")
	}
	if _, ok := s.Producer(2); !ok || s.Len() != 1 {
		t.Fatalf("producer 2 should survive; Len = %d", s.Len())
	}
	// An expired producer is unknown again: any sequence is accepted, and
	// its old batches are no longer reported as duplicates.
	dup, isDup, err := s.Check(Batch{ProducerID: 1, FirstSeq: 10, LastSeq: 10})
	if err != nil || isDup {
		t.Fatalf("expired producer retry: %+v dup=%v err=%v", dup, isDup, err)
	}
	if n := s.Expire(8_000, 6_000); n != 0 {
		t.Fatalf("second Expire dropped %d, want 0", n)
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want int16
	}{
		{nil, 0},
		{ErrOutOfOrderSequence, 45},
		{ErrInvalidProducerEpoch, 47},
		{ErrInvalidSequence, 87},
		{errors.New("disk on fire"), -1},
	}
	for _, tc := range tests {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	// Wrapped errors from Check keep their code.
	s := New()
	s.Apply(Batch{ProducerID: 1, Epoch: 3}, 0)
	_, _, err := s.Check(Batch{ProducerID: 1, Epoch: 2})
	if Code(err) != 47 {
		t.Fatalf("Code(%v) = %d, want 47", err, Code(err))
	}
}
