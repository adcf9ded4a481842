package actors

import (
	"sync/atomic"
	"time"
)

// latencyHistogram counts durations into fixed buckets with atomics, so recording takes
// no lock; /metrics turns a snapshot into a Prometheus histogram at scrape time.
type latencyHistogram struct {
	bounds   []float64       // upper bounds in seconds, ascending
	counts   []atomic.Uint64 // per bucket (not cumulative); the last is +Inf
	sumNanos atomic.Uint64
}

func newLatencyHistogram(bounds ...float64) *latencyHistogram {
	return &latencyHistogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *latencyHistogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(h.bounds) && s > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(uint64(max(d, 0)))
}

// LatencySnapshot is a histogram in Prometheus' shape: Buckets maps each upper bound
// (seconds) to the cumulative count of observations at or below it.
type LatencySnapshot struct {
	Count   uint64
	Sum     float64 // seconds
	Buckets map[float64]uint64
}

func (h *latencyHistogram) snapshot() LatencySnapshot {
	s := LatencySnapshot{Buckets: make(map[float64]uint64, len(h.bounds))}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		s.Buckets[b] = cum
	}
	s.Count = cum + h.counts[len(h.bounds)].Load()
	s.Sum = time.Duration(h.sumNanos.Load()).Seconds()
	return s
}
