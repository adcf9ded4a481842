package main

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestHistogramQuantilesWithinOnePercent(t *testing.T) {
	var h histogram
	// 1 µs .. 1 s in 1 µs steps: the true q-quantile is q seconds.
	const n = 1_000_000
	for i := 1; i <= n; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	if got := h.Count(); got != n {
		t.Fatalf("Count = %d, want %d", got, n)
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := q * float64(time.Second)
		got := float64(h.Quantile(q))
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("Quantile(%v) = %v, want %v within 1%%", q, time.Duration(got), time.Duration(want))
		}
	}
}

func TestHistogramSmallAndHugeValues(t *testing.T) {
	var h histogram
	h.Record(-5) // a clock step backwards counts as zero, not as a panic
	h.Record(3)
	h.Record(time.Duration(math.MaxInt64))
	if got := h.Quantile(0.1); got != 0 {
		t.Errorf("Quantile(0.1) = %v, want 0", got)
	}
	if got := h.Quantile(0.5); got != 3 {
		t.Errorf("Quantile(0.5) = %v, want 3ns", got)
	}
	if got := h.Quantile(1); float64(got) < 0.99*math.MaxInt64 {
		t.Errorf("Quantile(1) = %v, want about MaxInt64", got)
	}
	var empty histogram
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("empty Quantile = %v, want 0", got)
	}
}

func TestHistogramConcurrentRecords(t *testing.T) {
	var h histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10_000 {
				h.Record(time.Duration(g*10_000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if got := h.Count(); got != 80_000 {
		t.Fatalf("Count = %d, want 80000", got)
	}
	if got, want := h.Quantile(0.5), 40*time.Millisecond; math.Abs(float64(got-want))/float64(want) > 0.01 {
		t.Errorf("Quantile(0.5) = %v, want %v", got, want)
	}
}
