// Command chronik-bench times metadata operations against the real chronik-node binary
// over the wire: CreateTopics of 1,000 topics × 10 partitions with a Kafka admin client
// (kadm), and restart-to-ready (process start until /healthz answers 200) of a node
// holding 10,000 and then 100,000 partitions, with bbolt and with memory Raft storage.
// Results go to stdout, one line each; progress and errors to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
)

type config struct {
	bin         string
	topics      int
	partitions  int
	totalTopics int
	restarts    int
	keep        bool
	timeout     time.Duration
}

func main() {
	var cfg config
	fs := flag.NewFlagSet("chronik-bench", flag.ExitOnError)
	fs.StringVar(&cfg.bin, "bin", "bin/chronik-node", "chronik-node binary to run")
	fs.IntVar(&cfg.topics, "topics", 1000, "topics per CreateTopics request")
	fs.IntVar(&cfg.partitions, "partitions", 10, "partitions per topic")
	fs.IntVar(&cfg.totalTopics, "total-topics", 10000, "topics to hold for the large restart timings (filled with requests of -topics)")
	fs.IntVar(&cfg.restarts, "restarts", 3, "restarts timed per configuration")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary data dir and node log")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "give up after this long")
	_ = fs.Parse(os.Args[1:])
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	if err := run(cfg, log); err != nil {
		log.Error().Err(err).Msg("chronik-bench failed")
		os.Exit(1)
	}
}

func run(cfg config, log zerolog.Logger) error {
	if cfg.topics <= 0 || cfg.partitions <= 0 || cfg.restarts <= 0 || cfg.totalTopics < cfg.topics {
		return fmt.Errorf("need positive -topics, -partitions, -restarts and -total-topics >= -topics")
	}
	if _, err := os.Stat(cfg.bin); err != nil {
		return fmt.Errorf("binary %s: %w (run make build)", cfg.bin, err)
	}
	work, err := os.MkdirTemp("", "chronik-bench-")
	if err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	if cfg.keep {
		log.Info().Str("dir", work).Msg("keeping data dir and node log")
	} else {
		defer os.RemoveAll(work)
	}
	n, err := newNode(cfg.bin, work)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	s := &scenario{cfg: cfg, log: log, n: n, out: os.Stdout}
	err = s.run(ctx)
	if stopErr := n.stop(); err == nil {
		err = stopErr
	}
	return err
}
