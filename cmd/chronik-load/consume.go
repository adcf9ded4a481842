package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer settings, identical for every target: large fetches, so the phase measures
// how fast a broker hands out data rather than round trips.
const (
	fetchMaxBytes          = 64 << 20
	fetchMaxPartitionBytes = 8 << 20
)

type consumeResult struct {
	records int64
	bytes   int64 // record values
	elapsed time.Duration
	usage   cpuUsage
}

func (r consumeResult) recordsPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r consumeResult) mbPerSec() float64      { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// consume reads topic from the start of every partition until it has want records and
// checks them: offsets contiguous from 0 in each partition (nothing lost, nothing twice)
// and every value recordSize bytes long.
func consume(ctx context.Context, t target, topic string, partitions int, want int64, recordSize int) (consumeResult, error) {
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(t.Addr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return consumeResult{}, fmt.Errorf("consumer client: %w", err)
	}
	defer cl.Close()

	var res consumeResult
	next := make([]int64, partitions)
	start := time.Now()
	usage := startUsage(t)
	for res.records < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("consumed %d of %d records: %w", res.records, want, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			e := errs[0]
			return res, fmt.Errorf("fetch %s-%d: %w", e.Topic, e.Partition, e.Err)
		}
		var bad error
		fs.EachRecord(func(r *kgo.Record) {
			switch {
			case bad != nil:
			case r.Partition < 0 || int(r.Partition) >= partitions:
				bad = fmt.Errorf("record from partition %d, topic has %d", r.Partition, partitions)
			case r.Offset != next[r.Partition]:
				bad = fmt.Errorf("partition %d: record at offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
			case len(r.Value) != recordSize:
				bad = fmt.Errorf("partition %d offset %d: value of %d bytes, want %d", r.Partition, r.Offset, len(r.Value), recordSize)
			default:
				next[r.Partition]++
				res.records++
				res.bytes += int64(len(r.Value))
			}
		})
		if bad != nil {
			return res, bad
		}
	}
	res.elapsed = time.Since(start)
	res.usage = usage.stop(res.elapsed)
	if res.records != want {
		return res, fmt.Errorf("consumed %d records, produced %d", res.records, want)
	}
	return res, nil
}
