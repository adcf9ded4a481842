package actors

import (
	"sync"
	"time"
)

// rateWindow is the shortest interval a message rate is computed over: shorter windows
// make the debug page's msg/s jump with every burst.
const rateWindow = time.Second

// rateSampler keeps the last few samples of every actor's processed-message count,
// taken once a second by a goroutine the node owns, so any reader (the debug page, the
// JSON endpoint, `chronik-node status`) gets a rate without keeping state of its own.
type rateSampler struct {
	mu      sync.Mutex
	samples []rateSample // oldest first, at most 3
}

type rateSample struct {
	at        time.Time
	processed map[string]uint64
}

// record adds a sample, dropping the oldest beyond three.
func (s *rateSampler) record(at time.Time, processed map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, rateSample{at: at, processed: processed})
	if len(s.samples) > 3 {
		s.samples = s.samples[len(s.samples)-3:]
	}
}

// baseline is the newest sample at least rateWindow older than now, or an empty sample
// (rates 0) when the node has not run that long.
func (s *rateSampler) baseline(now time.Time) rateSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.samples) - 1; i >= 0; i-- {
		if now.Sub(s.samples[i].at) >= rateWindow {
			return s.samples[i]
		}
	}
	return rateSample{}
}

// rate is the messages per second actor id processed since this sample. An actor the
// sample does not know (started since) counts from zero.
func (b rateSample) rate(id string, processed uint64, now time.Time) float64 {
	if b.at.IsZero() {
		return 0
	}
	prev := b.processed[id]
	if processed < prev { // a new actor under a reused name
		prev = 0
	}
	return float64(processed-prev) / now.Sub(b.at).Seconds()
}

// startRateSampler samples r every interval until the returned func is called.
func startRateSampler(r *registry, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	r.rates.record(time.Now(), r.processedByID())
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				r.rates.record(now, r.processedByID())
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}
