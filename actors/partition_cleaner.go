package actors

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/chronik/chronik-node/wal"
)

// defaultCleanerBackoff is Kafka's log.cleaner.backoff.ms: how often a compacted
// partition looks for work.
const defaultCleanerBackoff = 15 * time.Second

// cleanRun is a clean of the partition's log in progress (wal/compact.go): the plan is
// made and the result swapped in on the actor; the slow part, reading the dirty records
// and writing the cleaned segments, runs on a goroutine of its own, so produces and
// fetches never wait for it.
type cleanRun struct {
	plan    *wal.CleanPlan
	started time.Time
	stop    chan struct{} // closed when the partition closes: the run gives up
	done    chan struct{} // closed when the run has finished; res and err are then set
	res     *wal.CleanResult
	err     error
}

// CleanerStats counts the log cleaner's work since the node started.
type CleanerStats struct {
	Cleans         uint64 // cleans swapped into their logs
	Abandoned      uint64 // cleans given up: the log changed under them, or they failed
	RecordsRemoved uint64
	BytesRemoved   uint64 // segment bytes before the cleans less after
}

type cleanerCounters struct{ cleans, abandoned, records, bytes atomic.Uint64 }

// CleanerStats returns the node's log cleaner counters.
func (n *Node) CleanerStats() CleanerStats {
	c := &n.metrics.cleaner
	return CleanerStats{Cleans: c.cleans.Load(), Abandoned: c.abandoned.Load(), RecordsRemoved: c.records.Load(), BytesRemoved: c.bytes.Load()}
}

// cleanDone tells the actor that its clean's run has finished.
type cleanDone struct{ run *cleanRun }

// maybeClean starts a clean of a compacted partition when its log needs one (the dirty
// ratio reached min.cleanable.dirty.ratio), at most every log.cleaner.backoff.ms, and
// only while no other partition of the node is being cleaned.
func (a *partitionActor) maybeClean(now time.Time) {
	if !a.cfg.compacted || a.wal == nil || a.writesFenced != nil || a.cleaning != nil {
		return
	}
	if now.Sub(a.lastCleanCheck) < a.n.opts.Data.CleanerBackoff {
		return
	}
	a.lastCleanCheck = now
	select {
	case a.n.cleaning <- struct{}{}:
	default:
		return // another partition's clean runs; try at the next check
	}
	plan := a.wal.PlanClean(now, a.hw, a.cfg.clean)
	if plan == nil {
		<-a.n.cleaning
		return
	}
	run := &cleanRun{plan: plan, started: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	a.cleaning = run
	self, root := a.self, a.n.root
	go func() {
		run.res, run.err = plan.Run(run.stop)
		<-a.n.cleaning
		close(run.done)
		root.Send(self, &cleanDone{run: run})
	}()
}

// cleanFinished swaps a finished clean's segments into the log and logs what it did.
func (a *partitionActor) cleanFinished(m *cleanDone) {
	run := m.run
	if a.cleaning != run || a.wal == nil {
		return // a clean of a log this actor has closed: stopCleaning dealt with it
	}
	a.cleaning = nil
	if run.err != nil {
		a.n.metrics.cleaner.abandoned.Add(1)
		a.wal.Discard(run.plan, run.res)
		ev := a.log.Warn()
		if wal.IsCleanStale(run.err) {
			ev = a.log.Debug()
		}
		ev.Err(run.err).Msg("log clean abandoned")
		return
	}
	if err := a.wal.FinishClean(run.res); err != nil {
		a.n.metrics.cleaner.abandoned.Add(1)
		switch {
		case wal.IsCleanStale(err):
			a.log.Debug().Err(err).Msg("log clean not swapped in")
		case errors.Is(err, wal.ErrClosed):
			// The swap failed half-way and closed the log; opening it completes the swap.
			a.log.Error().Err(err).Msg("log clean failed while swapping in; reopening the partition")
			a.close()
			a.open()
		default:
			a.log.Warn().Err(err).Msg("log clean not swapped in")
		}
		return
	}
	// An fsync writes the cleaned segments' index files (their data is flushed already),
	// whatever the flush policy, and lets their indexes leave memory.
	a.sync.request()
	st := run.res.Stats
	c := &a.n.metrics.cleaner
	c.cleans.Add(1)
	c.records.Add(uint64(st.RecordsRemoved))
	c.bytes.Add(uint64(max(st.BytesBefore-st.BytesAfter, 0)))
	a.log.Info().Int64("bytes_before", st.BytesBefore).Int64("bytes_after", st.BytesAfter).
		Int64("records_read", st.RecordsRead).Int64("records_removed", st.RecordsRemoved).
		Int("segments", st.Segments).Int64("cleaned_to", st.CleanedTo).Float64("dirty_ratio", run.plan.Ratio).
		Dur("took", time.Since(run.started)).Msg("log cleaned")
	a.sizeBytes = a.wal.Size()
	a.publish()
}

// stopCleaning abandons a clean in progress, waiting for its goroutine, before the log
// closes. Its cleaned files are removed; Open would remove them too.
func (a *partitionActor) stopCleaning() {
	run := a.cleaning
	if run == nil {
		return
	}
	a.cleaning = nil
	close(run.stop)
	<-run.done
	if a.wal != nil {
		a.wal.Discard(run.plan, run.res)
	}
}
