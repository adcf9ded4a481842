package test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchBytes counts the bytes a client writes and reads for Fetch requests (kgo's broker
// hooks: what goes over the wire, size prefixes included).
type fetchBytes struct{ written, read atomic.Int64 }

func (f *fetchBytes) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	if key == 1 {
		f.written.Add(int64(n))
	}
}

func (f *fetchBytes) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	if key == 1 {
		f.read.Add(int64(n))
	}
}

// BenchmarkIdleConsumerFetchBytes measures what a caught-up kgo consumer of 1,000
// partitions costs on the wire while one record a tenth of a second trickles in: the
// Fetch bytes it sends and receives per second. With incremental fetch sessions (KIP-227)
// a fetch names only what changed and its answer carries only partitions with news;
// without (max.incremental.fetch.session.cache.slots = 0) every fetch names, and every
// answer lists, all 1,000. kfake, which keeps sessions too, is the reference.
func BenchmarkIdleConsumerFetchBytes(b *testing.B) {
	const partitions, topic = 1000, "idle"
	targets := []benchTarget{
		startBenchChronik(b, ""),
		startBenchChronik(b, "max.incremental.fetch.session.cache.slots = 0"),
		startBenchKfake(b),
	}
	targets[1].name = "chronik-no-sessions"
	b.Cleanup(func() {
		for _, t := range targets {
			t.stop()
		}
	})
	for _, target := range targets {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		prod, cons, counted, trickled := idleConsumer(b, ctx, target.addr, topic, partitions)
		b.Run(target.name, func(b *testing.B) {
			written, read := counted.written.Load(), counted.read.Load()
			before := trickled.Load()
			start := time.Now()
			for i := 0; i < 10*b.N; i++ {
				if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte("v")}).FirstErr(); err != nil {
					b.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond) // the trickle's pace, not a wait for anything
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(counted.written.Load()-written)/secs, "request-B/s")
			b.ReportMetric(float64(counted.read.Load()-read)/secs, "response-B/s")
			b.StopTimer()
			// The consumer was live throughout: it reads the whole trickle.
			for want := before + int64(10*b.N); trickled.Load() < want; {
				if ctx.Err() != nil {
					b.Fatalf("the consumer read %d of the %d trickled records", trickled.Load()-before, 10*b.N)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
		cancel()
		cons.Close()
		prod.Close()
	}
}

// idleConsumer creates topic on the broker at addr with one record in each partition,
// and a consumer, counting its Fetch bytes, that has read them all and keeps polling,
// counting the records it reads from then on.
func idleConsumer(b *testing.B, ctx context.Context, addr, topic string, partitions int) (prod, cons *kgo.Client, counted *fetchBytes, trickled *atomic.Int64) {
	b.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := kadm.NewClient(prod).CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		b.Fatal(err)
	}
	recs := make([]*kgo.Record, partitions)
	for p := range recs {
		recs[p] = &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte("v")}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	counted, trickled = &fetchBytes{}, &atomic.Int64{}
	cons, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond), kgo.WithHooks(counted))
	if err != nil {
		b.Fatal(err)
	}
	for read := 0; read < partitions; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("caught up on %d of %d partitions", read, partitions)
		}
		read += fs.NumRecords()
	}
	go func() {
		for ctx.Err() == nil {
			trickled.Add(int64(cons.PollFetches(ctx).NumRecords()))
		}
	}()
	return prod, cons, counted, trickled
}
