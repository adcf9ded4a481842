package main

import (
	"testing"
	"time"
)

// The peak is the most stolen within any 100 ms: a 60 ms burst counts whole even when it
// straddles two fixed slots, and the same 60 ms spread over a second counts as little.
func TestStealPeakIsOverASlidingWindow(t *testing.T) {
	start := time.Unix(0, 0)
	peakOf := func(perTick []int64) time.Duration {
		w := &slidingSteal{}
		var counter int64
		var peak time.Duration
		w.add(start, 0)
		for i, n := range perTick {
			counter += n
			peak = max(peak, w.add(start.Add(time.Duration(i+1)*10*time.Millisecond), counter))
		}
		return peak
	}
	burst := make([]int64, 30)
	for i := 7; i < 13; i++ { // ticks 70-130 ms: across the 100 ms mark
		burst[i] = 1
	}
	if got := peakOf(burst); got != 60*time.Millisecond {
		t.Fatalf("a 60 ms burst: peak %v", got)
	}
	spread := make([]int64, 100)
	for i := 0; i < 100; i += 16 {
		spread[i] = 1
	}
	if got := peakOf(spread); got != 10*time.Millisecond {
		t.Fatalf("60 ms spread over a second: peak %v, want 10ms", got)
	}
}
