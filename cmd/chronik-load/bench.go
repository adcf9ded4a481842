package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bench is one run: the disk limit, then every record size × acks × target.
type bench struct {
	cfg  config
	log  zerolog.Logger
	work string
	out  io.Writer
	keep bool // nodes leave their data and logs behind
	disk []diskResult
}

// cellResult is one target's numbers for one record size and acks setting.
type cellResult struct {
	name     string
	produce  produceResult
	consume  consumeResult
	half     produceResult
	halfRate float64
}

func (b *bench) run(ctx context.Context) error {
	if slices.ContainsFunc(b.cfg.targets, func(t string) bool { return !isKfake(t) }) {
		if _, err := os.Stat(b.cfg.bin); err != nil {
			return fmt.Errorf("binary %s: %w (run make build)", b.cfg.bin, err)
		}
	}
	if b.cfg.alwaysBytes > 0 {
		// The largest run keeps its log until its node stops; the dir of the run before
		// is gone by then.
		free, err := freeBytes(b.work)
		if err != nil {
			return err
		}
		if need := 2*b.cfg.alwaysBytes + 2<<30; free < need {
			return fmt.Errorf("%s has %.1f GB free; -always-bytes %d needs %.1f GB", b.work, float64(free)/1e9, b.cfg.alwaysBytes, float64(need)/1e9)
		}
	}
	if b.cfg.diskTime > 0 {
		for _, shape := range []struct{ size, files int }{{1 << 20, 1}, {16 << 10, 1}, {1 << 20, b.cfg.partitions}} {
			b.log.Info().Int("write_bytes", shape.size).Int("files", shape.files).Dur("for", b.cfg.diskTime).Msg("disk limit")
			r, err := diskLimit(b.work, shape.size, shape.files, b.cfg.diskTime)
			if err != nil {
				return err
			}
			b.disk = append(b.disk, r)
			b.printf("disk-limit/"+r.name(), "%8.1f MB/s  %7.0f fsyncs/s  %s",
				r.mbPerSec(), float64(r.syncs)/r.elapsed.Seconds(), volume(r.bytes, r.elapsed))
		}
	}
	for _, size := range b.cfg.sizes {
		for _, acks := range b.cfg.acks {
			var rounds [][]cellResult
			for round := 1; round <= b.cfg.rounds; round++ {
				var cells []cellResult
				for _, tn := range b.cfg.targets {
					c, err := b.cell(ctx, tn, size, acks, round)
					if err != nil {
						return err
					}
					cells = append(cells, c)
				}
				b.compare(b.cellPrefix(size, acks, round), cells)
				rounds = append(rounds, cells)
			}
			if len(rounds) > 1 {
				b.summarize(fmt.Sprintf("%s/acks=%s", sizeLabel(size), acks), rounds)
			}
		}
	}
	return nil
}

// cellPrefix names the result lines of one size, acks and round ("100B/acks=all", with
// "/round=2" when there are several rounds).
func (b *bench) cellPrefix(size int, acks string, round int) string {
	prefix := fmt.Sprintf("%s/acks=%s", sizeLabel(size), acks)
	if b.cfg.rounds > 1 {
		prefix += fmt.Sprintf("/round=%d", round)
	}
	return prefix
}

func (b *bench) start(ctx context.Context, tn string) (target, error) {
	switch tn {
	case "kfake":
		return startKfake()
	case "kfake-process":
		return startKfakeProcess(ctx)
	}
	return startChronik(ctx, chronikOptions{bin: b.cfg.bin, workDir: b.work, flushPolicy: tn, keep: b.keep, env: b.cfg.nodeEnv, set: b.cfg.nodeSet})
}

// cell runs one target with one record size and acks setting: on a fresh broker a peak
// produce phase and reading it all back; then, on another fresh broker once the disk has
// written back what the first one left in the page cache, a produce phase at half the
// peak rate. Without the fresh start the half-peak phase would pay for the peak phase's
// writeback and measure that rather than latency at half load.
func (b *bench) cell(ctx context.Context, tn string, size int, acks string, round int) (c cellResult, err error) {
	cc := b.cfg.client
	cc.recordSize, cc.acks = size, acks
	prefix := b.cellPrefix(size, acks, round)
	until := produceUntil{duration: b.cfg.duration}
	if tn == "always" && size == 1024 && acks == "all" && b.cfg.alwaysBytes > 0 {
		until = produceUntil{bytes: b.cfg.alwaysBytes}
	}
	err = b.withTarget(ctx, tn, func(t target) error {
		c.name = t.Name()
		name := prefix + "/" + c.name
		b.log.Info().Str("run", name).Stringer("until", until).Msg("produce at peak")
		prof := b.profile(ctx, t, name+"/produce", min(until.duration, 10*time.Second))
		var err error
		if c.produce, err = produce(ctx, t, cc, "load", until, 0); err != nil {
			return fmt.Errorf("%s: produce: %w", name, err)
		}
		b.wait(prof)
		b.printProduce(name+"/produce", c.produce)

		b.log.Info().Str("run", name).Int64("records", c.produce.records+1).Msg("consume")
		prof = b.profile(ctx, t, name+"/consume", 2*time.Second)
		if c.consume, err = consume(ctx, t, "load", b.cfg.partitions, c.produce.records+1, size); err != nil {
			return fmt.Errorf("%s: consume: %w", name, err)
		}
		b.wait(prof)
		b.printf(name+"/consume", "%10.0f rec/s  %8.1f MB/s  %35s  %s",
			c.consume.recordsPerSec(), c.consume.mbPerSec(), volume(c.consume.bytes, c.consume.elapsed), c.consume.usage)
		return nil
	})
	if err != nil {
		return c, err
	}
	syscall.Sync() // the stopped node's data is on its way to disk; let it arrive
	c.halfRate = c.produce.recordsPerSec() / 2
	err = b.withTarget(ctx, tn, func(t target) error {
		name := prefix + "/" + c.name
		b.log.Info().Str("run", name).Float64("records_per_sec", c.halfRate).Msg("produce at half the peak rate")
		prof := b.profile(ctx, t, name+"/produce-at-half-peak", min(b.cfg.halfWarmup+b.cfg.halfDuration, 10*time.Second))
		var err error
		if c.half, err = produce(ctx, t, cc, "load", produceUntil{duration: b.cfg.halfDuration, warmup: b.cfg.halfWarmup}, c.halfRate); err != nil {
			return fmt.Errorf("%s: produce at half peak: %w", name, err)
		}
		b.wait(prof)
		b.printProduce(name+"/produce-at-half-peak", c.half)
		return nil
	})
	return c, err
}

// withTarget starts a fresh target with the topic "load", runs fn and stops the target.
func (b *bench) withTarget(ctx context.Context, tn string, fn func(target) error) (err error) {
	// kfake leaves gigabytes of garbage in this process; collect it and hand the memory
	// back first, or the next target pays for it (a chronik run right after kfake measured
	// half its usual throughput).
	debug.FreeOSMemory()
	t, err := b.start(ctx, tn)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, t.Close()) }()
	if err := createTopic(ctx, t, "load", b.cfg.partitions); err != nil {
		return err
	}
	return fn(t)
}

func createTopic(ctx context.Context, t target, topic string, partitions int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.Addr()))
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s on %s: %w", topic, t.Name(), err)
	}
	return nil
}

// profile starts fetching the broker's CPU profile for d, when asked to (-profile-dir);
// wait collects it.
func (b *bench) profile(ctx context.Context, t target, name string, d time.Duration) chan error {
	if b.cfg.profileDir == "" {
		return nil
	}
	path := filepath.Join(b.cfg.profileDir, strings.NewReplacer("/", "_", "=", "-").Replace(name)+".pprof")
	done := make(chan error, 1)
	go func() { done <- t.Profile(ctx, d, path) }()
	return done
}

func (b *bench) wait(prof chan error) {
	if prof == nil {
		return
	}
	if err := <-prof; err != nil {
		b.log.Warn().Err(err).Msg("no profile")
	}
}
