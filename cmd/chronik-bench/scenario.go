package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const topicPrefix = "bench-t"

// scenario is one benchmark run against one node and data dir.
type scenario struct {
	cfg     config
	log     zerolog.Logger
	n       *node
	out     io.Writer
	created int // topics created so far: bench-t00000 .. created-1
}

func (s *scenario) run(ctx context.Context) error {
	d, err := s.n.start(ctx, "bbolt")
	if err != nil {
		return err
	}
	s.result("fresh-start-to-healthz/bbolt", []time.Duration{d})

	one, err := s.createTopics(ctx, s.cfg.topics)
	if err != nil {
		return err
	}
	s.result(fmt.Sprintf("create-topics/%dx%d/one-request", s.cfg.topics, s.cfg.partitions), []time.Duration{one})
	if err := s.restarts(ctx, "bbolt", "none"); err != nil {
		return err
	}

	var fill []time.Duration
	for s.created < s.cfg.totalTopics {
		d, err := s.createTopics(ctx, min(s.cfg.topics, s.cfg.totalTopics-s.created))
		if err != nil {
			return err
		}
		fill = append(fill, d)
	}
	if len(fill) > 0 {
		s.result(fmt.Sprintf("create-topics/%dx%d/into-up-to-%d-partitions", s.cfg.topics, s.cfg.partitions, s.created*s.cfg.partitions), fill)
		if err := s.restarts(ctx, "bbolt", "none"); err != nil {
			return err
		}
	}
	// Memory mode last: going back to bbolt would find a raft.db older than the store.
	return s.restarts(ctx, "memory", "metastore")
}

// createTopics creates the next count topics in one CreateTopics request and checks
// every topic was created and the node lists all partitions afterwards.
func (s *scenario) createTopics(ctx context.Context, count int) (time.Duration, error) {
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("%s%05d", topicPrefix, s.created+i)
	}
	adm, closeAdm, err := s.admin()
	if err != nil {
		return 0, err
	}
	defer closeAdm()
	t := time.Now()
	resp, err := adm.CreateTopics(ctx, int32(s.cfg.partitions), 1, nil, names...)
	took := time.Since(t)
	if err != nil {
		return 0, fmt.Errorf("create %d topics: %w", count, err)
	}
	for _, name := range names {
		if r, ok := resp[name]; !ok || r.Err != nil {
			return 0, fmt.Errorf("create topic %s: %v (in response: %v)", name, r.Err, ok)
		}
	}
	s.created += count
	return took, s.checkPartitions(ctx, adm)
}

// restarts restarts the node cfg.restarts times with the given Raft storage, timing each
// restart until /healthz is 200, and checks Bootstrap's mode and that every partition
// is still there.
func (s *scenario) restarts(ctx context.Context, raftStorage, wantBootstrap string) error {
	var took []time.Duration
	for range s.cfg.restarts {
		if err := s.n.stop(); err != nil {
			return err
		}
		d, err := s.n.start(ctx, raftStorage)
		if err != nil {
			return err
		}
		took = append(took, d)
		st, err := s.n.raftStatus()
		if err != nil {
			return err
		}
		if st.Bootstrap.Mode != wantBootstrap || st.StorageMode != raftStorage {
			return fmt.Errorf("after restart with %s raft storage: storage %q bootstrap %q, want bootstrap %q", raftStorage, st.StorageMode, st.Bootstrap.Mode, wantBootstrap)
		}
		adm, closeAdm, err := s.admin()
		if err != nil {
			return err
		}
		err = s.checkPartitions(ctx, adm)
		closeAdm()
		if err != nil {
			return fmt.Errorf("after restart with %s raft storage: %w", raftStorage, err)
		}
	}
	s.result(fmt.Sprintf("restart-to-healthz/%d-partitions/%s", s.created*s.cfg.partitions, raftStorage), took)
	return nil
}

func (s *scenario) admin() (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.n.KafkaAddr))
	if err != nil {
		return nil, nil, fmt.Errorf("kafka client: %w", err)
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(60000)
	return adm, cl.Close, nil
}

// checkPartitions checks the node's metadata lists every created topic with all its
// partitions.
func (s *scenario) checkPartitions(ctx context.Context, adm *kadm.Client) error {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	got := 0
	for name, td := range topics {
		if !strings.HasPrefix(name, topicPrefix) {
			continue
		}
		if td.Err != nil {
			return fmt.Errorf("topic %s: %w", name, td.Err)
		}
		got += len(td.Partitions)
	}
	if want := s.created * s.cfg.partitions; got != want {
		return fmt.Errorf("node lists %d partitions of bench topics, want %d", got, want)
	}
	return nil
}

// result prints one result line: median, min and max seconds of the samples.
func (s *scenario) result(name string, samples []time.Duration) {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	fmt.Fprintf(s.out, "E2E/%-52s %8.3f s median  %8.3f s min  %8.3f s max  n=%d\n", name,
		sorted[len(sorted)/2].Seconds(), sorted[0].Seconds(), sorted[len(sorted)-1].Seconds(), len(sorted))
	s.log.Info().Str("result", name).Dur("median", sorted[len(sorted)/2]).Msg("measured")
}
