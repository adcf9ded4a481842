package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Group benchmarks run the same client workload against chronik-node (the real binary,
// fsync on) and against kfake (franz-go's in-process fake Kafka, in memory), so the
// numbers sit side by side. scripts/bench.sh groups runs them.

const benchTopic, benchPartitions = "bench", 100

// benchTarget is a broker to benchmark: its address and how to stop it.
type benchTarget struct {
	name string
	addr string
	stop func()
}

// benchTargets starts both brokers for one benchmark; they stop when it ends (its
// sub-benchmarks run several times, with growing b.N, against the same brokers).
func benchTargets(b *testing.B) []benchTarget {
	b.Helper()
	targets := []benchTarget{startBenchChronik(b, ""), startBenchKfake(b)}
	b.Cleanup(func() {
		for _, t := range targets {
			t.stop()
		}
	})
	return targets
}

// startBenchChronik starts chronik-node with production durability (fsynced metadata
// store and Raft log), no initial rebalance delay (kfake has none) and the extra config
// lines given, and creates the topic.
func startBenchChronik(b *testing.B, extra string) benchTarget {
	b.Helper()
	dir := b.TempDir()
	kafka, debug := benchFreeAddr(b), benchFreeAddr(b)
	cfg := fmt.Sprintf("listeners = %q\ndebug.listener = %q\ndata.dir = %q\ngroup.initial.rebalance.delay.ms = 0\nlogging.level = \"warn\"\n%s\n",
		kafka, debug, filepath.Join(dir, "data"), extra)
	path := filepath.Join(dir, "node.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(chronikBin, "--config", path)
	cmd.SysProcAttr = nodeProcAttr()
	// The node's log goes to a file: on the benchmark's output a warning landed in the
	// middle of a result line, and bench.sh lost the line.
	logFile, err := os.Create(filepath.Join(dir, "node.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logFile.Close() })
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + debug + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatal("chronik-node did not become healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
	createBenchTopic(b, kafka)
	return benchTarget{name: "chronik", addr: kafka, stop: stop}
}

func startBenchKfake(b *testing.B) benchTarget {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(benchPartitions, benchTopic))
	if err != nil {
		b.Fatal(err)
	}
	return benchTarget{name: "kfake", addr: c.ListenAddrs()[0], stop: c.Close}
}

func createBenchTopic(b *testing.B, addr string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, benchPartitions, 1, nil, benchTopic); err != nil {
		b.Fatal(err)
	}
}

func benchFreeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// BenchmarkGroupRebalance measures how long 10 kgo consumers that start together take
// to settle as one group over a 100-partition topic: from the first client's creation
// until every partition is owned by exactly one member and every member owns some.
func BenchmarkGroupRebalance(b *testing.B) {
	for _, target := range benchTargets(b) {
		b.Run(target.name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				total += rebalanceOnce(b, target.addr, fmt.Sprintf("rebalance-%d-%d", b.N, i))
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/rebalance")
		})
	}
}

func rebalanceOnce(b *testing.B, addr, group string) time.Duration {
	b.Helper()
	const members = 10
	var (
		mu    sync.Mutex
		owned = make([]map[int32]bool, members)
		done  = make(chan struct{})
		once  sync.Once
	)
	settled := func() bool {
		seen := map[int32]bool{}
		for _, o := range owned {
			if len(o) == 0 {
				return false
			}
			for p := range o {
				if seen[p] {
					return false
				}
				seen[p] = true
			}
		}
		return len(seen) == benchPartitions
	}
	start := time.Now()
	var clients []*kgo.Client
	for m := 0; m < members; m++ {
		owned[m] = map[int32]bool{}
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(benchTopic),
			kgo.HeartbeatInterval(100*time.Millisecond), kgo.SessionTimeout(10*time.Second),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				for _, p := range a[benchTopic] {
					owned[m][p] = true
				}
				if settled() {
					once.Do(func() { close(done) })
				}
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				for _, p := range r[benchTopic] {
					delete(owned[m], p)
				}
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				for _, p := range r[benchTopic] {
					delete(owned[m], p)
				}
			}),
		)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, cl)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("group did not settle within 2 minutes")
	}
	took := time.Since(start)
	b.StopTimer()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); cl.Close() }()
	}
	wg.Wait()
	b.StartTimer()
	return took
}

// BenchmarkOffsetCommits measures OffsetCommit throughput with 1 and with 64 concurrent
// committers, each request committing one partition of one of 16 standalone groups. On
// chronik-node every acknowledged commit is fsynced (Raft log and metadata store);
// concurrent commits share those fsyncs.
func BenchmarkOffsetCommits(b *testing.B) {
	for _, target := range benchTargets(b) {
		// OffsetCommit v10 names topics by id; v9 lets the request name the topic.
		v9 := kversion.Stable()
		v9.SetMaxKeyVersion(8, 9)
		var clients []*kgo.Client
		for i := 0; i < 8; i++ {
			cl, err := kgo.NewClient(kgo.SeedBrokers(target.addr), kgo.MaxVersions(v9))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cl.Close)
			clients = append(clients, cl)
		}
		for _, committers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/committers-%d", target.name, committers), func(b *testing.B) {
				var left atomic.Int64
				left.Store(int64(b.N))
				var wg sync.WaitGroup
				start := time.Now()
				for w := 0; w < committers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cl := clients[w%len(clients)]
						group := fmt.Sprintf("committer-%d", w%16)
						for off := int64(1); left.Add(-1) >= 0; off++ {
							if err := commitOnce(cl, group, int32(w%benchPartitions), off); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
			})
		}
	}
}

func commitOnce(cl *kgo.Client, group string, partition int32, offset int64) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = benchTopic
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}
