package wal

import (
	"errors"
	"fmt"
	"time"

	"github.com/chronik/chronik-node/wal/batch"
)

// Log compaction (cleanup.policy=compact), after Kafka's log cleaner.
//
// A clean runs in three steps, so that the partition's owner goroutine never waits for
// the slow part:
//
//  1. PlanClean (owner) picks the cleanable segments: sealed, wholly below the first
//     uncleanable offset (the active segment's base, the high watermark, the recovery
//     point, and the first segment whose newest record is younger than the minimum
//     compaction lag), and decides whether the dirty ratio calls for a clean.
//  2. CleanPlan.Run (any goroutine) builds the key → newest offset map over the dirty
//     range (from the cleaner checkpoint on, bounded by MaxKeys), then rewrites the
//     cleanable segments into ".cleaned" files, fsynced, keeping each key's newest record.
//     Reads and appends go on meanwhile.
//  3. Log.FinishClean (owner) swaps the cleaned files in under the log's locks, briefly,
//     and records how far the log is clean (cleanerCheckpoint).
//
// Offsets never change: a retained record keeps its offset, a rewritten batch keeps its
// base offset, last offset delta, producer fields and codec. Reads at a removed offset
// are served from the next retained batch, as in Kafka.

// CleanConfig is a compacted topic's cleaner settings, with Kafka's names.
type CleanConfig struct {
	// MinCleanableRatio: clean when dirty bytes / cleanable bytes reach it
	// (min.cleanable.dirty.ratio).
	MinCleanableRatio float64
	// MinCompactionLag: records younger than this are not cleaned (min.compaction.lag.ms).
	MinCompactionLag time.Duration
	// MaxCompactionLag forces a clean whatever the dirty ratio once the first dirty
	// segment's newest record is this old (max.compaction.lag.ms); 0 never forces one.
	// Kafka goes by the segment's oldest record: this fires later, never earlier.
	MaxCompactionLag time.Duration
	// DeleteRetention: how long a tombstone stays once its batch is that old
	// (delete.retention.ms); see filterBatch.
	DeleteRetention time.Duration
	// MaxKeys bounds the offset map of one clean; 0 means DefaultCleanMaxKeys.
	MaxKeys int
}

// DefaultCleanMaxKeys bounds one clean's offset map to about 35 MiB.
const DefaultCleanMaxKeys = 500_000

// cleanInflateLimit is the most a compressed batch is decompressed to for cleaning; a
// larger batch is kept whole.
const cleanInflateLimit = 64 << 20

// errCleanStale: the log changed (truncation, deletion) while a clean ran; its output is
// thrown away and the next pass starts over.
var errCleanStale = errors.New("log changed during the clean")

// IsCleanStale reports whether a clean failed only because the log changed under it.
func IsCleanStale(err error) bool { return errors.Is(err, errCleanStale) }

// CleanPlan is a clean PlanClean decided on; Run carries it out.
type CleanPlan struct {
	l       *Log
	cfg     CleanConfig
	now     time.Time
	segs    []*segment // cleanable segments, ascending, from the first of the log
	ends    []int64    // the offset after each: the next segment's base
	sizes   []int64
	dirty   int64 // first dirty offset: the cleaner checkpoint
	changes uint64
	segMax  int64 // SegmentBytes: cleaned segments are merged up to it
	// indexInterval is IndexIntervalBytes as of the plan: Run must not read the config,
	// which SetConfig changes on the owner.
	indexInterval int

	// Ratio is the dirty ratio that triggered the clean.
	Ratio float64
}

// CleanResult is a finished Run, to be swapped in by FinishClean.
type CleanResult struct {
	plan      *CleanPlan
	sources   []*segment // the segments the outputs replace
	outputs   []*segment // open on their ".cleaned" files
	cleanedTo int64
	Stats     CleanStats
}

// CleanStats describe one clean, for its log line.
type CleanStats struct {
	BytesBefore, BytesAfter     int64
	RecordsRead, RecordsRemoved int64
	Segments                    int // segments cleaned
	CleanedTo                   int64
}

// CleanedTo is the cleaner checkpoint: the log below it has been cleaned at least once.
func (l *Log) CleanedTo() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cleanedTo
}

// PlanClean decides whether the log needs a clean now and returns its plan, or nil. Only
// the owner goroutine calls it, and not again before the plan's FinishClean (or its
// Discard).
func (l *Log) PlanClean(now time.Time, highWatermark int64, cfg CleanConfig) *CleanPlan {
	if l.closed || l.cleaning {
		return nil
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultCleanMaxKeys
	}
	limit := min(l.active().base, highWatermark, l.durableTo.Load())
	lagCutoff := now.Add(-cfg.MinCompactionLag).UnixMilli()
	n := 0
	for n < len(l.segments)-1 && l.segmentEnd(n) <= limit && l.segments[n].size > 0 {
		if cfg.MinCompactionLag > 0 && l.segments[n].largestTimestamp() > lagCutoff {
			break
		}
		n++
	}
	if n == 0 {
		return nil
	}
	dirty := max(l.cleanedTo, l.logStart, l.segments[0].base)
	var cleanBytes, dirtyBytes int64
	p := &CleanPlan{l: l, cfg: cfg, now: now, dirty: dirty, changes: l.changes, segMax: l.cfg.SegmentBytes, indexInterval: l.cfg.IndexIntervalBytes}
	for i, s := range l.segments[:n] {
		end := l.segmentEnd(i)
		if end <= dirty {
			cleanBytes += s.size
		} else {
			dirtyBytes += s.size
		}
		p.segs, p.ends, p.sizes = append(p.segs, s), append(p.ends, end), append(p.sizes, s.size)
	}
	if dirtyBytes == 0 {
		return nil
	}
	p.Ratio = float64(dirtyBytes) / float64(cleanBytes+dirtyBytes)
	if p.Ratio < cfg.MinCleanableRatio && !p.overdue(now) {
		return nil
	}
	l.cleaning = true
	return p
}

// Discard gives up a plan that will not be run (or whose Run failed), so the owner may
// plan again; a result's files are removed.
func (l *Log) Discard(p *CleanPlan, r *CleanResult) {
	if r != nil {
		r.removeOutputs()
	}
	if p != nil && p.l == l {
		l.cleaning = false
	}
}

// Run carries out the plan: it builds the offset map over the dirty range and writes the
// cleaned segments to ".cleaned" files, flushed. It runs on any goroutine, without
// blocking the owner (it reads the segments like Read does); stop, when closed, abandons
// it. A failed Run leaves the log as it was; pass the plan to Discard.
func (p *CleanPlan) Run(stop <-chan struct{}) (*CleanResult, error) {
	c := &cleaner{plan: p, stop: stop, codecs: newCleanCodecs()}
	keep, err := p.producerLastBatches(stop)
	if err != nil {
		return nil, err
	}
	m, cleanedTo, err := c.buildOffsetMap()
	if err != nil {
		return nil, err
	}
	// Only segments the map reaches are rewritten (records past its end are kept, but a
	// segment wholly past it would only be copied).
	n := 0
	for n < len(p.segs) && p.segs[n].base < cleanedTo {
		n++
	}
	res := &CleanResult{plan: p, sources: p.segs[:n], cleanedTo: cleanedTo}
	if err := c.rewrite(res, m, keep); err != nil {
		res.removeOutputs()
		return nil, err
	}
	res.Stats.CleanedTo = res.cleanedTo
	return res, nil
}

// producerLastBatches returns the last offset of each idempotent producer's last batch in
// the log: the cleaner keeps those batches whole, records and all, so the producer state a
// restart rebuilds from batch headers still knows every producer's last sequence. (Kafka
// keeps such a batch even when emptied; keeping its records too spares every reader of
// the log a batch with no records, at the cost of a few superseded records.)
func (p *CleanPlan) producerLastBatches(stop <-chan struct{}) (map[int64]int64, error) {
	last := map[int64]int64{}
	err := p.l.ScanHeaders(p.segs[0].base, func(h batch.Header) error {
		select {
		case <-stop:
			return fmt.Errorf("%w: stopped", errCleanStale)
		default:
		}
		if h.ProducerID >= 0 {
			last[h.ProducerID] = h.LastOffset()
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrOffsetOutOfRange) {
			err = fmt.Errorf("%w: %w", errCleanStale, err)
		}
		return nil, fmt.Errorf("clean: find producers' last batches: %w", err)
	}
	return last, nil
}

// FinishClean swaps a Run's cleaned segments into the log (owner goroutine). It gives
// the result up, with errCleanStale, if the log changed meanwhile. An error wrapping
// ErrClosed means the swap failed half-way and closed the log: reopen it. Crash safety: a
// manifest naming the swap is written first; Open completes a swap it finds (see
// recoverCleanSwap), so a crash at any point leaves either the old segments or the new.
func (l *Log) FinishClean(r *CleanResult) error {
	p := r.plan
	if p.l != l {
		// Not this log's: its files are the other log's business (Open removes them).
		for _, o := range r.outputs {
			o.file.Close()
		}
		return fmt.Errorf("finish clean: %w: the result belongs to another log", errCleanStale)
	}
	l.cleaning = false
	if l.closed {
		r.removeOutputs()
		return ErrClosed
	}
	if l.changes != p.changes || len(l.segments) <= len(r.sources) || !samePrefix(l.segments, r.sources) {
		r.removeOutputs()
		return fmt.Errorf("finish clean: %w", errCleanStale)
	}
	rangeEnd := l.segments[len(r.sources)].base
	if err := l.swapCleaned(r, rangeEnd); err != nil {
		return err
	}
	return nil
}

func samePrefix(segs, prefix []*segment) bool {
	for i, s := range prefix {
		if segs[i] != s {
			return false
		}
	}
	return true
}

func (r *CleanResult) removeOutputs() {
	for _, s := range r.outputs {
		s.file.Close()
		removeIfExists(s.logPath() + cleanedSuffix)
	}
	r.outputs = nil
}

// overdue reports whether MaxCompactionLag forces the clean: the first dirty segment's
// newest record is older than it.
func (p *CleanPlan) overdue(now time.Time) bool {
	if p.cfg.MaxCompactionLag <= 0 {
		return false
	}
	for i, s := range p.segs {
		if p.ends[i] > p.dirty {
			return s.largestTimestamp() <= now.Add(-p.cfg.MaxCompactionLag).UnixMilli()
		}
	}
	return false
}
