package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SIGTERM answers fetches parked in a long poll with what they have, as Kafka does,
// and exits cleanly. It used to wait for them: the shutdown took as long as the
// clients' MaxWaitMillis (kcat's fetch.wait.max.ms can be minutes), and past its 30 s
// grace it cut the connections under them and exited 1.
func TestShutdownAnswersParkedFetches(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "quiet", 2, nil)
	reply := longPoll(t, n, "quiet", 1, 2*time.Minute)
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM with a fetch parked for 2 minutes: exit %v", err)
	}
	resp := <-reply // the client's own deadline is 2m30s: the node has exited by now
	if resp == nil {
		t.Fatal("the parked fetch was not answered before the node exited")
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.HighWatermark != 0 {
			t.Fatalf("partition %d answered error %d, high watermark %d; want an empty answer", p.Partition, p.ErrorCode, p.HighWatermark)
		}
	}
}

// SIGTERM answers a JoinGroup parked in a rebalance (waiting for a member that has not
// rejoined) with a retriable error, as Kafka's coordinator does when it resigns, instead
// of holding the shutdown until the stuck member's session expires: with a 60 s session
// the node used to give up after its 30 s grace, cut the connections and exit 1.
func TestShutdownAnswersParkedJoinGroup(t *testing.T) {
	n := startNode(t, groupConfig)
	ctx := testContext(t)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"anything"}
	join := func(member string) (*kmsg.JoinGroupResponse, error) {
		// The broker itself, not the client: kgo would retry a retriable answer.
		cl := n.client(kgo.RequestRetries(0)).SeedBrokers()[0]
		for {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group, req.MemberID, req.ProtocolType = "stuck", member, "consumer"
			req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 60_000, 60_000
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = "range", meta.AppendTo(nil)
			req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
			resp, err := req.RequestWith(ctx, cl)
			if err != nil || resp.ErrorCode != kerr.MemberIDRequired.Code {
				return resp, err
			}
			member = resp.MemberID
		}
	}
	// The first member joins and syncs, then goes quiet: it never rejoins.
	first, err := join("")
	if err != nil || first.ErrorCode != 0 {
		t.Fatalf("first member's join: %v %+v", err, first)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "stuck", first.MemberID, first.Generation
	if resp, err := sync.RequestWith(ctx, n.client()); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("first member's sync: %v %+v", err, resp)
	}
	// The second member's join waits for the first to rejoin.
	second := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		resp, err := join("")
		if err != nil {
			t.Errorf("second member's join: %v", err)
		}
		second <- resp
	}()
	eventually(t, 10*time.Second, "the group to rebalance", func() bool {
		g, ok := n.group("stuck")
		return ok && g.State == "PreparingRebalance"
	})
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM with a JoinGroup parked for a 60 s session: exit %v", err)
	}
	resp := <-second
	if resp == nil || !kerr.IsRetriable(kerr.ErrorForCode(resp.ErrorCode)) {
		t.Fatalf("the parked JoinGroup was answered %+v; want a retriable error", resp)
	}
}

// SIGTERM does not wait on a client that has stopped reading its responses (a stopped
// or wedged consumer whose socket buffer is full): the response being written gets a
// few seconds, then the connection is closed and the node exits 0. It used to wait out
// the whole 30 s grace and exit 1.
func TestShutdownDoesNotWaitOnClientThatStoppedReading(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "backlog", 1, nil)
	prod := n.client(kgo.DefaultProduceTopic("backlog"), kgo.ProducerBatchMaxBytes(1<<20))
	value := make([]byte, 100_000)
	for range 200 { // 20 MB: far more than the sockets' buffers hold
		prod.Produce(testContext(t), &kgo.Record{Value: value}, nil)
	}
	if err := prod.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", n.kafkaAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	format := kmsg.NewRequestFormatter(kmsg.FormatterClientID("stalled"))
	for i := range int32(3) {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12
		req.ReplicaID, req.MaxBytes = -1, 50<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "backlog"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 50<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		if _, err := conn.Write(format.AppendRequest(nil, req, i)); err != nil {
			t.Fatal(err)
		}
	}
	// The first response has started to arrive: the node is writing, and the client now
	// stops reading with most of 60 MB still to come.
	size := make([]byte, 4)
	if _, err := io.ReadFull(conn, size); err != nil {
		t.Fatalf("the first fetch response did not start: %v", err)
	}
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM with a client not reading its responses: exit %v", err)
	}
}

// SIGTERM in the middle of a heavy acks=all produce: every record acknowledged before
// the node went is read back after it starts again, and the node exits 0.
func TestShutdownDuringProduceKeepsAcknowledgedRecords(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "busy", 4, map[string]string{"segment.bytes": "1048576"})
	var mu sync.Mutex
	acked := map[string]bool{}
	var clients []*kgo.Client
	var wg sync.WaitGroup
	var sent, answered atomic.Int64
	stop := make(chan struct{})
	// Cancelled once the node is gone: a Produce blocked on a full buffer returns.
	produceCtx, cancelProduce := context.WithCancel(context.Background())
	defer cancelProduce()
	for p := range 2 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.kafkaAddr), kgo.DefaultProduceTopic("busy"),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				value := fmt.Sprintf("%d-%d-%0200d", p, i, i)
				sent.Add(1)
				cl.Produce(produceCtx, &kgo.Record{Value: []byte(value)}, func(r *kgo.Record, err error) {
					if err == nil {
						mu.Lock()
						acked[string(r.Value)] = true
						mu.Unlock()
					}
					answered.Add(1)
				})
			}
		}()
	}
	eventually(t, 30*time.Second, "50000 acknowledged records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 50_000
	})
	err := n.stop()
	close(stop)
	cancelProduce()
	wg.Wait()
	for _, cl := range clients {
		cl.Close() // fails what was never answered
	}
	eventually(t, 10*time.Second, "every produced record's callback", func() bool { return answered.Load() == sent.Load() })
	if err != nil {
		t.Fatalf("SIGTERM during produce: exit %v", err)
	}
	n.start()
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	cl := n.client(kgo.ConsumeTopics("busy"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	listed, err := n.admin().ListEndOffsets(testContext(t), "busy")
	if err != nil {
		t.Fatal(err)
	}
	end := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	found := map[string]bool{}
	for read := map[int32]int64{}; ; {
		done := true
		for p, e := range end {
			done = done && read[p] >= e
		}
		if done {
			break
		}
		fs := cl.PollFetches(testContext(t))
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			read[r.Partition] = r.Offset + 1
			if acked[string(r.Value)] {
				found[string(r.Value)] = true
			}
		})
	}
	if len(found) != want {
		t.Fatalf("%d of %d acknowledged records missing after the restart", want-len(found), want)
	}
}

// A CPU profile being taken (go tool pprof .../debug/pprof/profile, 30 s by default) held
// the shutdown for its whole 30 s grace, and the node then exited 1 ("shutdown: context
// deadline exceeded") though every request and store had closed cleanly. The debug
// listener's answers are worth nothing once the node is going; it no longer waits for
// them.
func TestShutdownDoesNotWaitForDebugRequests(t *testing.T) {
	n := startNode(t, "")
	go func() {
		resp, err := http.Get("http://" + n.debugAddr + "/debug/pprof/profile?seconds=60")
		if err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, 10*time.Second, "the profile to be running", func() bool {
		resp, err := http.Get("http://" + n.debugAddr + "/debug/pprof/goroutine?debug=2")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), "net/http/pprof.Profile")
	})
	start := time.Now()
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM while a profile was being taken: exit %v after %v", err, time.Since(start))
	}
}
