package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientConfig is the client side of a run, identical for every target.
type clientConfig struct {
	recordSize  int
	acks        string // "1" or "all"
	linger      time.Duration
	producers   int   // goroutines calling Produce on the one producer client
	bufferBytes int64 // the producer client's MaxBufferedBytes
	// compression is the producer's batch codec; the default, none, is what the
	// targets are measured with. Every record of a phase carries the same value, so
	// batches compress far better than real data: this measures what the broker pays
	// per record decompressed, not what compression saves.
	compression kgo.CompressionCodec
}

// producerOpts are the kgo settings every target gets. acks=all keeps kgo's default
// idempotent producer; acks=1 cannot be idempotent in kgo, and then gets the same five
// requests in flight per broker that the idempotent producer uses.
func producerOpts(cc clientConfig, addr, topic string) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(cc.compression),
		kgo.ProducerLinger(cc.linger),
		kgo.MaxBufferedBytes(int(cc.bufferBytes)),
		kgo.MaxBufferedRecords(1 << 30), // bounded by bytes instead
	}
	if cc.acks == "1" {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	return opts
}

// latencyEvery is the sampling of latency at peak: offsets that are multiples of it.
const latencyEvery = 16

// sample is one record in flight with the time Produce was called. kgo truncates record
// timestamps to milliseconds, too coarse for latency, so the send time travels in the
// record's context instead: sample is that context (delegating to the run's), which costs
// no allocation beyond the record's own.
type sample struct {
	kgo.Record
	parent context.Context
	sent   time.Time
}

func (s *sample) Deadline() (time.Time, bool) { return s.parent.Deadline() }
func (s *sample) Done() <-chan struct{}       { return s.parent.Done() }
func (s *sample) Err() error                  { return s.parent.Err() }
func (s *sample) Value(key any) any           { return s.parent.Value(key) }

// produceResult is one produce phase.
type produceResult struct {
	records int64
	bytes   int64 // record values
	elapsed time.Duration
	latency *histogram // per record: Produce called until its promise
	request *histogram // per produce request: written until its response was read
	// writeWait is per produce request, how long it waited in the client to be written
	// (behind the requests in flight): time a record spends in neither the broker nor
	// the wire.
	writeWait *histogram
	// recordsPerBatch is the mean number of records in the batches the client wrote.
	recordsPerBatch float64
	usage           cpuUsage
}

func (r produceResult) recordsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r produceResult) mbPerSec() float64      { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// produceUntil ends a produce phase: a duration, or a number of value bytes produced.
// A paced phase may start with a warm-up at the same rate, whose records are produced
// but not measured.
type produceUntil struct {
	duration time.Duration
	bytes    int64
	warmup   time.Duration
}

func (u produceUntil) String() string {
	if u.bytes > 0 {
		return fmt.Sprintf("%.1f GiB", float64(u.bytes)/(1<<30))
	}
	return u.duration.String()
}

// produce sends records of cc.recordSize random bytes to topic until until says stop,
// as fast as the client lets it (rate 0) or at rate records/s, then waits for every
// acknowledgement. Any failed record fails the phase: a benchmark that loses records
// measures nothing.
func produce(ctx context.Context, t target, cc clientConfig, topic string, until produceUntil, rate float64) (produceResult, error) {
	res := produceResult{latency: &histogram{}, request: &histogram{}, writeWait: &histogram{}}
	hooks := &produceHooks{h: res.request, writeWait: res.writeWait}
	cl, err := kgo.NewClient(append(producerOpts(cc, t.Addr(), topic), kgo.WithHooks(hooks))...)
	if err != nil {
		return produceResult{}, fmt.Errorf("producer client: %w", err)
	}
	defer cl.Close()
	value := make([]byte, cc.recordSize)
	for i := range value {
		value[i] = byte(rand.Uint32())
	}
	// Connect and learn the partitions before the clock starts. The consume phase reads
	// this record too.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
		return produceResult{}, fmt.Errorf("first produce to %s: %w", t.Name(), err)
	}
	hooks.on.Store(until.warmup == 0) // not the first record's request, nor the warm-up's
	var (
		acked, failed atomic.Int64
		firstErr      atomic.Pointer[error]
		sent          atomic.Int64
	)
	// Reading the clock costs ~50 ns here, as much as a tenth of the client's work per
	// 100 B record: at peak (where latency is only queueing in the client's buffer) one
	// record in latencyEvery is timed; paced phases time every record.
	samples := sync.Pool{New: func() any { return new(sample) }}
	every := int64(1)
	if rate == 0 {
		every = latencyEvery
	}
	var measureFrom time.Time // set before the first Produce
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, &err)
			return
		}
		s := r.Context.(*sample)
		if s.sent.Before(measureFrom) { // warm-up
			*s = sample{}
			samples.Put(s)
			return
		}
		if r.Offset%every == 0 {
			res.latency.Record(time.Since(s.sent))
		}
		acked.Add(1)
		// kgo is done with the record once its promise returns: it can carry the next one.
		*s = sample{}
		samples.Put(s)
	}
	one := func() {
		s := samples.Get().(*sample)
		s.parent, s.sent = ctx, time.Now()
		// The same clock reading is the record's timestamp, so kgo need not read it again.
		s.Record.Value, s.Record.Context, s.Record.Timestamp = value, s, s.sent
		cl.Produce(ctx, &s.Record, promise)
	}
	start := time.Now()
	measureFrom = start.Add(until.warmup)
	deadline := measureFrom.Add(until.duration)
	done := func() bool {
		if until.bytes > 0 {
			return sent.Load()*int64(cc.recordSize) >= until.bytes
		}
		return !time.Now().Before(deadline)
	}
	var wg sync.WaitGroup
	for range cc.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rate > 0 {
				producePaced(ctx, one, rate/float64(cc.producers), &sent, done)
				return
			}
			for !done() && ctx.Err() == nil {
				for range 64 {
					one()
				}
				sent.Add(64)
			}
		}()
	}
	if until.warmup > 0 {
		select {
		case <-time.After(time.Until(measureFrom)):
		case <-ctx.Done():
		}
		hooks.on.Store(true)
	}
	usage := startUsage(t)
	wg.Wait()
	if err := cl.Flush(ctx); err != nil {
		return res, fmt.Errorf("flush: %w", err)
	}
	res.elapsed = time.Since(measureFrom)
	res.usage = usage.stop(res.elapsed)
	if p := firstErr.Load(); p != nil {
		return res, fmt.Errorf("%d of %d records failed, first: %w", failed.Load(), sent.Load(), *p)
	}
	res.records = acked.Load()
	if n := hooks.batches.Load(); n > 0 {
		res.recordsPerBatch = float64(hooks.batchedRecords.Load()) / float64(n)
	}
	res.bytes = res.records * int64(cc.recordSize)
	return res, nil
}

// producePaced produces at rate records/s: every 200 µs it sends what the schedule says
// is due, so a slow broker shows up as latency, not as a lower rate (until the client's
// buffer fills).
func producePaced(ctx context.Context, one func(), rate float64, sent *atomic.Int64, done func() bool) {
	start := time.Now()
	var mine int64
	for !done() && ctx.Err() == nil {
		due := int64(rate * time.Since(start).Seconds())
		for ; mine < due; mine++ {
			one()
			sent.Add(1)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// produceHooks watch the client's produce requests once on is set. They record how long
// each request took on the wire, from the start of writing it until its response was
// read: the broker's share of a record's latency (plus waiting behind earlier responses
// on the connection). They also count the batches written and the records in them.
type produceHooks struct {
	h, writeWait *histogram
	on           atomic.Bool
	// Batches written and the records in them: how well the client batches, which sets
	// its CPU per record (a broker that answers sooner gets smaller batches).
	batches, batchedRecords atomic.Int64
}

func (t *produceHooks) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	if t.on.Load() {
		t.batches.Add(1)
		t.batchedRecords.Add(int64(m.NumRecords))
	}
}

func (t *produceHooks) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key == 0 && e2e.Err() == nil && t.on.Load() { // Produce
		t.h.Record(e2e.DurationE2E())
		t.writeWait.Record(e2e.WriteWait)
	}
}
