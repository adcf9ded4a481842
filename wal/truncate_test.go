package wal

import (
	"math/rand/v2"
	"testing"

	"github.com/rs/zerolog"
)

// epochLog appends 90 random batches: epochs 0, then 2 from batch 30, then 5 from batch 60.
func epochLog(t *testing.T, dir string) (*Log, *stored) {
	t.Helper()
	l := openTest(t, dir, testConfig())
	var want stored
	rng := rand.New(rand.NewPCG(31, 32))
	for _, epoch := range []int32{0, 2, 5} {
		appendRandom(t, l, &want, rng, 30, epoch)
	}
	return l, &want
}

func TestTruncateTo(t *testing.T) {
	tests := []struct {
		name   string
		offset func(w *stored) int64
		keep   func(w *stored) int // batches that remain
	}{
		{"at a batch boundary in the first segment", func(w *stored) int64 { return w.headers[5].BaseOffset }, func(*stored) int { return 5 }},
		{"inside a batch drops the whole batch", func(w *stored) int64 { return w.headers[40].BaseOffset + 1 }, func(*stored) int { return 40 }},
		{"at the last batch", func(w *stored) int64 { return w.headers[89].BaseOffset }, func(*stored) int { return 89 }},
		{"to zero", func(*stored) int64 { return 0 }, func(*stored) int { return 0 }},
		{"at the log end changes nothing", func(w *stored) int64 { return w.end() }, func(*stored) int { return 90 }},
		{"beyond the log end changes nothing", func(w *stored) int64 { return w.end() + 100 }, func(*stored) int { return 90 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, all := epochLog(t, dir)
			if tt.name == "inside a batch drops the whole batch" && all.headers[40].LastOffsetDelta == 0 {
				t.Fatal("batch 40 has one record; cannot truncate inside it")
			}
			want := all.prefix(tt.keep(all))
			if err := l.TruncateTo(tt.offset(all)); err != nil {
				t.Fatal(err)
			}
			checkTruncated(t, l, want)
			for _, e := range l.LeaderEpochs() {
				if e.StartOffset >= want.end() && want.end() < all.end() {
					t.Fatalf("epoch entry %+v survives truncation to %d", e, want.end())
				}
			}

			// The truncation is on disk: a crash right now (no Close) recovers the same log.
			crashed := l
			t.Cleanup(func() { crashed.closeFiles() })
			l = openTest(t, dir, testConfig())
			checkTruncated(t, l, want)
			more := &stored{batches: append([][]byte{}, want.batches...), headers: append(want.headers[:0:0], want.headers...)}
			appendRandom(t, l, more, rand.New(rand.NewPCG(7, 7)), 40, 6)
			checkContent(t, l, more)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openTest(t, dir, testConfig())
			defer l.Close()
			checkContent(t, l, more)
		})
	}
}

func checkTruncated(t *testing.T, l *Log, want *stored) {
	t.Helper()
	checkContent(t, l, want)
	for _, s := range l.segments[:len(l.segments)-1] {
		if s.next > want.end() {
			t.Fatalf("segment %d ends at %d beyond the truncation point %d", s.base, s.next, want.end())
		}
	}
	wantTS, wantOff := maxTimestampOf(want)
	if ts, off := l.MaxTimestamp(); ts != wantTS || off != wantOff {
		t.Fatalf("MaxTimestamp = %d at %d, want %d at %d", ts, off, wantTS, wantOff)
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	dir := t.TempDir()
	l, _ := epochLog(t, dir)
	if err := l.TruncateFullyAndStartAt(5000); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		if l.StartOffset() != 5000 || l.EndOffset() != 5000 || l.Size() != 0 || len(l.LeaderEpochs()) != 0 {
			t.Fatalf("start %d end %d size %d epochs %v", l.StartOffset(), l.EndOffset(), l.Size(), l.LeaderEpochs())
		}
		if n := len(segmentFiles(t, dir, logSuffix)); n != 1 {
			t.Fatalf("%d segment files, want 1", n)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, testConfig())
	defer l.Close()
	check(l)
	if base, err := l.Append(makeBatch(3, 10, t0.UnixMilli()), 7, t0); err != nil || base != 5000 {
		t.Fatalf("append after full truncation: base %d, %v", base, err)
	}
}

func TestTruncateBelowFirstSegmentStartsOver(t *testing.T) {
	l := openTest(t, t.TempDir(), oneBatchSegments())
	defer l.Close()
	var want stored
	appendSegments(t, l, &want, t0, t0, t0, t0)
	if err := l.DeleteRecordsBefore(want.headers[2].BaseOffset); err != nil {
		t.Fatal(err)
	}
	target := want.headers[1].BaseOffset // below the first remaining segment
	if err := l.TruncateTo(target); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != target || l.EndOffset() != target {
		t.Fatalf("start %d end %d, want both %d", l.StartOffset(), l.EndOffset(), target)
	}
}

func TestOpenHonoursLogStartBeyondRecoveredEnd(t *testing.T) {
	// DeleteRecordsBefore(end), then a crash that tore the tail: the log restarts empty at
	// the persisted start offset rather than exposing deleted offsets again.
	dir := t.TempDir()
	l := openTest(t, dir, testConfig())
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(1, 1)), 5, 0)
	if err := l.DeleteRecordsBefore(want.end()); err != nil {
		t.Fatal(err)
	}
	l.Close()
	flipByte(t, segmentStem(dir, 0)+logSuffix, 30) // damage the first batch: everything is cut
	l, err := Open(dir, testConfig(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.StartOffset() != want.end() || l.EndOffset() != want.end() {
		t.Fatalf("start %d end %d, want both %d", l.StartOffset(), l.EndOffset(), want.end())
	}
}
