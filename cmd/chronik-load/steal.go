package main

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// stealWindow is the span over which the peak of stolen time is reported: about the
// length of the stalls that set a half-peak p99 (Finding C in docs/benchmarks.md).
const stealWindow = 100 * time.Millisecond

// stealSampler watches the time the hypervisor ran something else while this VM's vCPUs
// wanted to run (the steal column of /proc/stat). A stall the guest cannot see in its own
// scheduling shows up here if the host took the vCPU away.
type stealSampler struct {
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	total time.Duration // stolen since start, summed over the CPUs
	peak  time.Duration // most stolen within any stealWindow
	ok    bool          // /proc/stat had a steal column
}

func startSteal() *stealSampler {
	s := &stealSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *stealSampler) run() {
	defer close(s.done)
	first, ok := readSteal()
	if !ok {
		return
	}
	w := &slidingSteal{}
	w.add(time.Now(), first)
	tick := time.NewTicker(time.Second / clockTicks)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			v, ok := readSteal()
			if !ok {
				return
			}
			peak := w.add(now, v)
			s.mu.Lock()
			s.ok = true
			s.total = ticks(v - first)
			s.peak = max(s.peak, peak)
			s.mu.Unlock()
		}
	}
}

// slidingSteal keeps the samples of the last stealWindow (one per tick), so the peak is
// over a sliding window, not over fixed slots a stall could straddle.
type slidingSteal struct {
	at    []time.Time
	steal []int64
}

// add records the steal counter read at a time and returns the time stolen within the
// stealWindow ending there.
func (w *slidingSteal) add(at time.Time, steal int64) time.Duration {
	w.at, w.steal = append(w.at, at), append(w.steal, steal)
	for len(w.at) > 1 && at.Sub(w.at[1]) >= stealWindow {
		w.at, w.steal = w.at[1:], w.steal[1:]
	}
	return ticks(steal - w.steal[0])
}

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }

// finish stops sampling and returns the stolen time and its peak per stealWindow; ok is
// false where /proc/stat has no steal column (not Linux, or too old).
func (s *stealSampler) finish() (total, peak time.Duration, ok bool) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.peak, s.ok
}

// readSteal returns the steal column of /proc/stat's "cpu" line: all CPUs, in ticks.
func readSteal() (int64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	// cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return 0, false
	}
	v, err := strconv.ParseInt(string(fields[8]), 10, 64)
	return v, err == nil
}
