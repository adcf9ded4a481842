// Command chronik-load measures the data path: a kgo load generator produces to and then
// consumes from a fresh chronik-node process and, in the same run with the same client
// settings, franz-go's in-process kfake cluster (which keeps everything in memory) as the
// reference. For every record size × acks × target it reports produce records/s and MB/s
// with p50/p99 latency at peak, consume MB/s, and p50/p99 latency at half the peak rate;
// before that it measures the disk's own append+fdatasync bandwidth with a plain loop.
// Results go to stdout, one LOAD/ line each; progress and errors to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

type config struct {
	bin          string
	sizes        []int
	acks         []string
	targets      []string // kfake, interval, always
	partitions   int
	rounds       int           // each size × acks runs every target this many times, alternating
	duration     time.Duration // each peak produce phase
	halfDuration time.Duration // each half-peak produce phase
	halfWarmup   time.Duration // produced at the half-peak rate before halfDuration, not measured
	alwaysBytes  int64         // fsync=always, 1 KiB, acks=all produces this much instead
	diskTime     time.Duration // each disk-limit loop
	client       clientConfig
	profileDir   string
	cpuProfile   string
	timeout      time.Duration
	keep         bool
	nodeEnv      []string // extra environment of chronik-node processes
	nodeSet      []string // extra --set key=value of chronik-node processes
}

func main() {
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	if len(os.Args) == 3 && os.Args[1] == kfakeServeCommand { // a kfake-process target's child
		if err := serveKfake(os.Args[2]); err != nil {
			log.Error().Err(err).Msg("kfake-serve failed")
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err == nil {
		err = run(cfg, log)
	}
	if err != nil {
		log.Error().Err(err).Msg("chronik-load failed")
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var (
		cfg                         config
		sizes, acks, targets, bytes string
	)
	fs := flag.NewFlagSet("chronik-load", flag.ExitOnError)
	cfg.client.compression = kgo.NoCompression()
	fs.StringVar(&cfg.bin, "bin", "bin/chronik-node", "chronik-node binary to run")
	fs.StringVar(&sizes, "sizes", "1024,100", "record value sizes in bytes, comma-separated")
	fs.StringVar(&acks, "acks", "1,all", "acks settings to run: 1, all")
	fs.StringVar(&targets, "targets", "kfake,interval,always", "targets: kfake (in this process), kfake-process (in a process of its own), interval (chronik log.flush.policy=interval), always")
	fs.IntVar(&cfg.partitions, "partitions", 8, "partitions of the topic")
	fs.IntVar(&cfg.rounds, "rounds", 1, "run every target this many times per size and acks, alternating, and print the medians")
	fs.DurationVar(&cfg.duration, "duration", 8*time.Second, "length of each peak produce phase")
	fs.DurationVar(&cfg.halfDuration, "half-duration", 5*time.Second, "length of each half-peak produce phase")
	// A fresh node's first tenth of a second under load faults in its buffers and page
	// cache; latency at half load is about the steady state that follows.
	fs.DurationVar(&cfg.halfWarmup, "half-warmup", time.Second, "produce at the half-peak rate this long before measuring")
	fs.StringVar(&bytes, "always-bytes", "4GiB", "the fsync=always 1 KiB acks=all peak phase produces this many value bytes instead of -duration (0: use -duration)")
	fs.DurationVar(&cfg.diskTime, "disk-time", 5*time.Second, "length of each disk-limit loop (0 skips them)")
	// Lingering adds to every record's latency; 1 ms keeps it a tenth of the 10 ms p99
	// target while batches still fill at peak (5 ms measured no better there).
	fs.DurationVar(&cfg.client.linger, "linger", time.Millisecond, "producer linger")
	fs.IntVar(&cfg.client.producers, "producers", 2, "goroutines producing through the one producer client")
	fs.Int64Var(&cfg.client.bufferBytes, "buffer-bytes", 64<<20, "producer client's max buffered bytes")
	fs.Func("compression", "producer batch compression: none (default), gzip, snappy, lz4, zstd", func(v string) error {
		codecs := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
			"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
		c, ok := codecs[v]
		if !ok {
			return fmt.Errorf("%q is not none, gzip, snappy, lz4 or zstd", v)
		}
		cfg.client.compression = c
		return nil
	})
	fs.StringVar(&cfg.profileDir, "profile-dir", "", "write a CPU profile of chronik-node for every produce and consume phase here")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write this process's CPU profile (client, and kfake) here")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work dir: node logs and data")
	fs.Func("node-set", "pass --set KEY=VALUE to chronik-node, e.g. log.flush.interval.ms=60000 (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q is not KEY=VALUE", v)
		}
		cfg.nodeSet = append(cfg.nodeSet, v)
		return nil
	})
	fs.Func("node-env", "add KEY=VALUE to chronik-node's environment, e.g. GOGC=400 (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q is not KEY=VALUE", v)
		}
		cfg.nodeEnv = append(cfg.nodeEnv, v)
		return nil
	})
	_ = fs.Parse(args)

	var err error
	if cfg.sizes, err = parseInts(sizes); err != nil {
		return cfg, fmt.Errorf("-sizes: %w", err)
	}
	if cfg.alwaysBytes, err = parseBytes(bytes); err != nil {
		return cfg, fmt.Errorf("-always-bytes: %w", err)
	}
	cfg.acks = strings.Split(acks, ",")
	for _, a := range cfg.acks {
		if a != "1" && a != "all" {
			return cfg, fmt.Errorf("-acks: %q is not 1 or all", a)
		}
	}
	cfg.targets = strings.Split(targets, ",")
	for _, t := range cfg.targets {
		if t != "kfake" && t != "kfake-process" && t != "interval" && t != "always" {
			return cfg, fmt.Errorf("-targets: %q is not kfake, kfake-process, interval or always", t)
		}
	}
	if cfg.rounds <= 0 || cfg.partitions <= 0 || cfg.duration <= 0 || cfg.halfDuration <= 0 || cfg.client.producers <= 0 || cfg.client.bufferBytes <= 0 {
		return cfg, fmt.Errorf("-rounds, -partitions, -duration, -half-duration, -producers and -buffer-bytes must be positive")
	}
	return cfg, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseBytes reads a byte count with an optional KiB, MiB or GiB suffix.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte count (like 4GiB)", s)
	}
	return n * mult, nil
}

func run(cfg config, log zerolog.Logger) error {
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return fmt.Errorf("profile dir: %w", err)
		}
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	work, err := os.MkdirTemp("", "chronik-load-")
	if err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	if cfg.keep {
		log.Info().Str("dir", work).Msg("keeping the work dir")
	} else {
		defer os.RemoveAll(work)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	b := &bench{cfg: cfg, log: log, work: work, out: os.Stdout, keep: cfg.keep}
	return b.run(ctx)
}
