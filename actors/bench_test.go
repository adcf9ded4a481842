package actors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/raftnode/storage"
)

// Benchmarks of the metadata path against the design note's anchors (see
// docs/benchmarks.md): commands per second through the whole actor path, CreateTopics of
// 1,000 topics of 10 partitions, and restart-to-ready holding 100,000 partitions. Unless a
// name says otherwise every store fsyncs, as in production. Fixtures are built inside the
// benchmarks, so `go test` without -bench never pays for them.

// benchRaftOptions are the node's configuration defaults (cmd/chronik-node/config).
func benchRaftOptions() RaftOptions {
	return RaftOptions{Tick: 100 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1,
		SnapshotEntries: 10000, ProposalTimeout: 10 * time.Second}
}

// countingStorage counts Save calls: each is one bbolt transaction (one fsync round) in
// bbolt mode, which shows how many proposals share a Raft log write.
type countingStorage struct {
	storage.Storage
	saves atomic.Int64
}

func (s *countingStorage) Save(hs *raftpb.HardState, entries []*raftpb.Entry, snap *raftpb.Snapshot) error {
	s.saves.Add(1)
	return s.Storage.Save(hs, entries, snap)
}

// benchNode is a node over stores in a directory, opened like the binary opens them.
type benchNode struct {
	*Node
	store *metastore.Store
	rs    *countingStorage
	// open, start and ready split the time Start-to-ready took: opening the stores,
	// actors.Start (Bootstrap and loading the image), and WaitReady.
	open, start, ready time.Duration
}

// benchNodeConfig says how to open a node. noSync is for building fixtures only.
type benchNodeConfig struct {
	mode   string // storage.ModeBolt or storage.ModeMemory
	noSync bool
	raft   RaftOptions
}

func startBenchNode(b *testing.B, dir string, cfg benchNodeConfig) *benchNode {
	b.Helper()
	t0 := time.Now()
	store, err := metastore.Open(filepath.Join(dir, "meta.db"), metastore.Options{NoSync: cfg.noSync})
	if err != nil {
		b.Fatal(err)
	}
	var rs storage.Storage
	if cfg.mode == storage.ModeMemory {
		rs = storage.NewMemory()
	} else if rs, err = storage.OpenBolt(filepath.Join(dir, "raft.db"), storage.BoltOptions{NoSync: cfg.noSync}, zerolog.Nop()); err != nil {
		b.Fatal(err)
	}
	bn := &benchNode{store: store, rs: &countingStorage{Storage: rs}}
	t1 := time.Now()
	bn.open = t1.Sub(t0)
	n, err := Start(Options{
		NodeID: 1, Advertise: metastore.Broker{Host: "127.0.0.1", Port: 9092},
		Store: store, RaftStorage: bn.rs, Raft: cfg.raft, Log: zerolog.Nop(),
		Data: DataOptions{Dir: filepath.Join(dir, "partitions")},
	})
	if err != nil {
		b.Fatal(err)
	}
	bn.Node = n
	t2 := time.Now()
	bn.start = t2.Sub(t1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	bn.ready = time.Since(t2)
	return bn
}

func (bn *benchNode) close(b *testing.B) {
	b.Helper()
	bn.Stop()
	if err := bn.rs.Close(); err != nil {
		b.Error(err)
	}
	if err := bn.store.Close(); err != nil {
		b.Error(err)
	}
}

// BenchmarkProposeThroughput drives small commands (AllocateProducerIDs{Count: 1}, the
// smallest real change) through Node.Propose from many goroutines at once: proposer
// batching, Raft, the Raft log write and the metadata store commit, all fsynced. One op
// is one command; cmds/s is the throughput, p50/p99 the latency one caller sees,
// cmds/entry how many commands the proposer packed into one Raft entry, and
// cmds/raft-save and cmds/meta-commit how many commands share one fsync.
func BenchmarkProposeThroughput(b *testing.B) {
	cmd := fsm.Command{AllocateProducerIDs: &fsm.AllocateProducerIDs{Count: 1}}
	for _, mode := range []string{storage.ModeBolt, storage.ModeMemory} {
		for _, proposers := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("%s/proposers=%d", mode, proposers), func(b *testing.B) {
				n := startBenchNode(b, b.TempDir(), benchNodeConfig{mode: mode, raft: benchRaftOptions()})
				defer n.close(b)
				firstID := n.Image().NextProducerID
				benchProposers(b, n, proposers, func(int64) fsm.Command { return cmd })
				if got := n.Image().NextProducerID - firstID; got != int64(b.N) {
					b.Fatalf("%d producer ids allocated for %d commands", got, b.N)
				}
			})
		}
	}
}

// BenchmarkProposeTopicConfigs100kPartitions is BenchmarkProposeThroughput with commands
// that change a topic (AlterConfigs on one of 10,000 topics, round robin) in a node
// holding 100,000 partitions: what leader, ISR and config changes cost on a big cluster,
// where every apply batch copies the image's topic maps and rewrites the changed topics.
func BenchmarkProposeTopicConfigs100kPartitions(b *testing.B) {
	dir := b.TempDir()
	buildFixture(b, dir, storage.ModeBolt)
	for _, mode := range []string{storage.ModeBolt, storage.ModeMemory} {
		for _, proposers := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("%s/proposers=%d", mode, proposers), func(b *testing.B) {
				benchTopicConfigs(b, dir, mode, proposers)
			})
		}
	}
}

func benchTopicConfigs(b *testing.B, dir, mode string, proposers int) {
	n := startBenchNode(b, dir, benchNodeConfig{mode: mode, raft: benchRaftOptions()})
	defer n.close(b)
	benchProposers(b, n, proposers, func(i int64) fsm.Command {
		return fsm.Command{AlterConfigs: &fsm.AlterConfigs{
			ResourceType: fsm.ResourceTopic, ResourceName: fixtureTopicName(int(i % fixtureTopics)),
			Set: map[string]string{"retention.ms": strconv.FormatInt(60000+i, 10)},
		}}
	})
	// Every command succeeded (benchProposers checks); spot-check one reached the image.
	last := int64(b.N - 1)
	want := strconv.FormatInt(60000+last, 10)
	if last < fixtureTopics || proposers == 1 {
		if got := n.Image().Topics[fixtureTopicName(int(last%fixtureTopics))].Configs["retention.ms"]; got != want {
			b.Fatalf("topic config retention.ms = %q, want %q", got, want)
		}
	}
}

// benchProposers proposes b.N commands, cmdFor(0..b.N-1), from that many goroutines.
func benchProposers(b *testing.B, n *benchNode, proposers int, cmdFor func(i int64) fsm.Command) {
	saves0, commits0, index0 := n.rs.saves.Load(), n.metrics.applyBatches.Load(), n.Image().Index
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		failed    atomic.Pointer[error]
		latencies = make([][]time.Duration, proposers)
	)
	b.ResetTimer()
	for p := range proposers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				cmd := cmdFor(i)
				t := time.Now()
				res, err := n.Propose(context.Background(), cmd)
				if err == nil && !res[0].OK() {
					err = fmt.Errorf("%s: %+v", cmd.Name(), res[0])
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				latencies[p] = append(latencies[p], time.Since(t))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	all := slices.Concat(latencies...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
	b.ReportMetric(micros(percentile(all, 0.50)), "p50-µs")
	b.ReportMetric(micros(percentile(all, 0.99)), "p99-µs")
	b.ReportMetric(float64(b.N)/float64(max(n.Image().Index-index0, 1)), "cmds/entry")
	b.ReportMetric(float64(b.N)/float64(max(n.rs.saves.Load()-saves0, 1)), "cmds/raft-save")
	b.ReportMetric(float64(b.N)/float64(max(n.metrics.applyBatches.Load()-commits0, 1)), "cmds/meta-commit")
	b.ReportMetric(0, "ns/op") // ns/op of a concurrent run is 1/throughput, already in cmds/s
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// createTopicCommands builds n CreateTopic commands of the given partition count (one
// replica: a single node), as the CreateTopics handler does for one request.
func createTopicCommands(prefix string, n, partitions int) []fsm.Command {
	cmds := make([]fsm.Command, n)
	for i := range cmds {
		replicas := make([][]int32, partitions)
		for p := range replicas {
			replicas[p] = []int32{1}
		}
		cmds[i] = fsm.Command{CreateTopic: &fsm.CreateTopic{
			Name: topicName(prefix, i), ID: metastore.NewUUID(), Replicas: replicas,
		}}
	}
	return cmds
}

func topicName(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

// proposeAll proposes cmds in Propose calls of batch commands each, with up to
// concurrency calls in flight, and fails the benchmark unless every command succeeds.
func proposeAll(b *testing.B, n *Node, cmds []fsm.Command, batch, concurrency int) {
	b.Helper()
	sem := make(chan struct{}, concurrency)
	errs := make(chan error, (len(cmds)+batch-1)/batch)
	for chunk := range slices.Chunk(cmds, batch) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			res, err := n.Propose(context.Background(), chunk...)
			if err == nil {
				for i, r := range res {
					if !r.OK() {
						err = fmt.Errorf("%s: %+v", chunk[i].Name(), r)
						break
					}
				}
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateTopics1000x10 creates 1,000 topics of 10 partitions on a fresh node per
// op. Shapes: "request" is one CreateTopics request holding all 1,000 (what the handler
// turns into one Propose), "clients" is 1,000 concurrent single-topic requests,
// "sequential" 1,000 single-topic requests one after another (a script looping over
// kafka-topics.sh). "dotted" names contain a '.', which makes the state machine check for
// '.'/'_' metric-name collisions.
func BenchmarkCreateTopics1000x10(b *testing.B) {
	const topics, partitions = 1000, 10
	shapes := []struct {
		name               string
		prefix             string
		batch, concurrency int
	}{
		{"request", "bench-t", topics, 1},
		{"request-dotted", "bench.t", topics, 1},
		{"clients", "bench-t", 1, topics},
		{"sequential", "bench-t", 1, 1},
	}
	for _, mode := range []string{storage.ModeBolt, storage.ModeMemory} {
		for _, s := range shapes {
			b.Run(mode+"/"+s.name, func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					n := startBenchNode(b, b.TempDir(), benchNodeConfig{mode: mode, raft: benchRaftOptions()})
					cmds := createTopicCommands(s.prefix, topics, partitions)
					b.StartTimer()
					proposeAll(b, n.Node, cmds, s.batch, s.concurrency)
					b.StopTimer()
					if got := n.Image().PartitionCount(); got != topics*partitions {
						b.Fatalf("%d partitions after creating %d×%d", got, topics, partitions)
					}
					n.close(b)
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1000-topics")
			})
		}
	}
}

// BenchmarkCreateTopics1000x10Into100kPartitions is BenchmarkCreateTopics1000x10 on a
// node that already holds 100,000 partitions (the topics are deleted again, untimed,
// after each op): what creating topics costs on a big cluster.
func BenchmarkCreateTopics1000x10Into100kPartitions(b *testing.B) {
	const topics, partitions = 1000, 10
	dir := b.TempDir()
	buildFixture(b, dir, storage.ModeBolt)
	n := startBenchNode(b, dir, benchNodeConfig{mode: storage.ModeBolt, raft: benchRaftOptions()})
	defer n.close(b)
	for _, s := range []struct {
		name               string
		prefix             string
		batch, concurrency int
	}{
		{"request", "bench-t", topics, 1},
		{"request-dotted", "bench.t", topics, 1},
		{"clients", "bench-t", 1, topics},
	} {
		b.Run("bbolt/"+s.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				cmds := createTopicCommands(s.prefix, topics, partitions)
				b.StartTimer()
				proposeAll(b, n.Node, cmds, s.batch, s.concurrency)
				b.StopTimer()
				if got := n.Image().PartitionCount(); got != (fixtureTopics+topics)*partitions {
					b.Fatalf("%d partitions after creating %d×%d", got, topics, partitions)
				}
				deletes := make([]fsm.Command, len(cmds))
				for i, c := range cmds {
					deletes[i] = fsm.Command{DeleteTopic: &fsm.DeleteTopic{Name: c.CreateTopic.Name}}
				}
				proposeAll(b, n.Node, deletes, len(deletes), 1)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1000-topics")
		})
	}
}

// Fixture of the 100k-partition benchmarks: 10,000 topics × 10 partitions.
const (
	fixtureTopics     = 10000
	fixturePartitions = 10
	fixturePrefix     = "fixture-t"
)

func fixtureTopicName(i int) string { return topicName(fixturePrefix, i) }

// buildFixture fills dir with a node's stores holding fixtureTopics topics, created in
// requests of 1,000 topics. The stores skip fsync while it is built (that is not what is
// measured). With a snapshot after every apply, the bbolt Raft log ends holding the whole
// image as its snapshot, as a long-running node's compacted log does.
func buildFixture(b *testing.B, dir, mode string) {
	b.Helper()
	t := time.Now()
	raft := benchRaftOptions()
	raft.SnapshotEntries = 1
	n := startBenchNode(b, dir, benchNodeConfig{mode: mode, noSync: true, raft: raft})
	proposeAll(b, n.Node, createTopicCommands(fixturePrefix, fixtureTopics, fixturePartitions), 1000, 1)
	applied := n.Image().Index
	if mode == storage.ModeBolt && !eventually(time.Minute, func() bool { return n.rs.Stats().SnapshotIndex >= applied }) {
		b.Fatalf("fixture raft log has no snapshot at %d: %+v", applied, n.rs.Stats())
	}
	st := n.RaftStatus()
	n.close(b)
	b.Logf("fixture: %d topics × %d partitions built in %s (%s raft log, snapshot %d bytes at index %d)",
		fixtureTopics, fixturePartitions, time.Since(t).Round(time.Millisecond), mode, st.SnapshotBytes, st.SnapshotIndex)
}

// restartLoop times b.N restarts (open the stores, Start, WaitReady) of the fixture in
// dir, with fsync on, and checks every restart has all partitions and bootstrapped as
// want says (mode, and whether the store was restored from the Raft snapshot). before
// runs untimed ahead of each restart.
func restartLoop(b *testing.B, dir, mode string, want BootstrapReport, before func()) {
	var open, start, ready time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if before != nil {
			before()
		}
		b.StartTimer()
		n := startBenchNode(b, dir, benchNodeConfig{mode: mode, raft: benchRaftOptions()})
		b.StopTimer()
		open, start, ready = open+n.open, start+n.start, ready+n.ready
		if got := n.Image().PartitionCount(); got != fixtureTopics*fixturePartitions {
			b.Fatalf("%d partitions after restart, want %d", got, fixtureTopics*fixturePartitions)
		}
		if got := n.RaftStatus().Bootstrap; got.Mode != want.Mode || got.RestoredStore != want.RestoredStore {
			b.Fatalf("bootstrap %+v, want mode %q restored_store %v", got, want.Mode, want.RestoredStore)
		}
		n.close(b)
		b.StartTimer()
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/restart")
	b.ReportMetric(per(open), "open-ms")
	b.ReportMetric(per(start), "start-ms")
	b.ReportMetric(per(ready), "ready-ms")
}

// BenchmarkRestartToReady100kPartitions restarts a node whose bbolt Raft log and
// metadata store hold 100,000 partitions. "bbolt" is a normal restart (Bootstrap has
// nothing to do); "bbolt-metastore-lost" deletes meta.db first, so the store is rebuilt
// from the Raft log's snapshot and the entries after it are replayed: the design note's
// "replay from a persistent Raft log" case.
func BenchmarkRestartToReady100kPartitions(b *testing.B) {
	dir := b.TempDir()
	buildFixture(b, dir, storage.ModeBolt)
	b.Run("bbolt", func(b *testing.B) {
		restartLoop(b, dir, storage.ModeBolt, BootstrapReport{Mode: "none"}, nil)
	})
	b.Run("bbolt-metastore-lost", func(b *testing.B) {
		restartLoop(b, dir, storage.ModeBolt, BootstrapReport{Mode: "none", RestoredStore: true}, func() {
			if err := os.Remove(filepath.Join(dir, "meta.db")); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkBootstrapMemory100kPartitions restarts a node with memory Raft storage over a
// metadata store holding 100,000 partitions: every start goes through Bootstrap, which
// rebuilds Raft from the store (mode "metastore", asserted).
func BenchmarkBootstrapMemory100kPartitions(b *testing.B) {
	dir := b.TempDir()
	buildFixture(b, dir, storage.ModeMemory)
	b.Run("memory", func(b *testing.B) {
		restartLoop(b, dir, storage.ModeMemory, BootstrapReport{Mode: "metastore"}, nil)
	})
}
