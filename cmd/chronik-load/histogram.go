package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets: 128 buckets per power of two, so a
// quantile is within 1% of the true value, at a fixed 58 KiB however many samples come.
// Promises run at millions per second; keeping every sample would cost gigabytes.
// Record is safe from any goroutine.
type histogram struct {
	counts [histBuckets]atomic.Uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	// Values below histSub have their own bucket; above, every power of two up to 2^63
	// has histSub buckets.
	histBuckets = histSub + (64-histSubBits-1)*histSub
)

func (h *histogram) Record(d time.Duration) {
	h.counts[histIndex(uint64(max(d, 0)))].Add(1)
}

// histIndex maps v to its bucket. For v >= histSub, shift drops all but the top
// histSubBits+1 bits, so v>>shift is in [histSub, 2*histSub).
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return histSub + shift*histSub + int(v>>shift) - histSub
}

// histValue is the middle of bucket i: the value a quantile landing in it reports.
func histValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i - histSub) / histSub
	lower := uint64(histSub+(i-histSub)%histSub) << shift
	return lower + (uint64(1)<<shift-1)/2
}

// Count is the number of samples recorded.
func (h *histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantile returns the value below or at which a fraction q of the samples lie; 0 with
// no samples.
func (h *histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(histValue(i))
		}
	}
	return time.Duration(histValue(histBuckets - 1))
}
