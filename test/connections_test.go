package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// openFDs counts the node's open file descriptors.
func (n *node) openFDs() int {
	n.t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", n.cmd.Process.Pid))
	if err != nil {
		n.t.Fatalf("list the node's file descriptors: %v", err)
	}
	return len(entries)
}

// A thousand connections, idle and then producing, leave no file descriptor behind
// once they close, and the node serves other clients while they are open.
func TestThousandConnectionsLeaveNoDescriptors(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc to count file descriptors")
	}
	n := startNode(t, "")
	createTopic(t, n, "crowd", 4, nil)
	ctx := testContext(t)
	// Every partition's files are open before the count is taken.
	warm := n.client(kgo.DefaultProduceTopic("crowd"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(4) {
		if err := warm.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("warm")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	baseline := n.openFDs()

	var idle []net.Conn
	for range 1000 {
		c, err := net.Dial("tcp", n.kafkaAddr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	eventually(t, 10*time.Second, "the node to hold the 1000 connections", func() bool { return n.openFDs() >= baseline+1000 })
	if err := warm.ProduceSync(ctx, &kgo.Record{Value: []byte("beside the idle crowd")}).FirstErr(); err != nil {
		t.Fatalf("produce with 1000 idle connections open: %v", err)
	}
	for _, c := range idle {
		c.Close()
	}

	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(n.kafkaAddr), kgo.DefaultProduceTopic("crowd"))
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("one of 1000 concurrent producers: %v", err)
	}
	eventually(t, 20*time.Second, "the node's descriptors to return to the baseline", func() bool { return n.openFDs() <= baseline })
	if got := consumeN(t, n, "crowd", 1005); len(got) != 1005 {
		t.Fatalf("read back %d records, want 1005", len(got))
	}
}

// Clients that hang up with a long-poll fetch parked (a consumer killed mid-poll, a
// script dialling, fetching and leaving in a loop) leave nothing behind: their sockets,
// handlers and parked fetches go at once. The node used to hold each connection until its
// fetch's MaxWaitMillis passed, to write an answer nobody would read, so such clients
// could run it out of file descriptors.
func TestHungUpLongPollsFreeTheirConnections(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc to count file descriptors")
	}
	n := startNode(t, "")
	createTopic(t, n, "idle", 2, nil)
	cl := n.rawClient()
	for p := range int32(2) { // both partitions open before the count is taken
		fetchRaw(t, cl, "idle", p, 0)
	}
	partitionParked(n, "idle", 0) // and the debug endpoint's keep-alive connection
	baseline := n.openFDs()

	var conns []net.Conn
	for i := range int32(300) {
		c, err := net.Dial("tcp", n.kafkaAddr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(longPollFrame("idle", 2, 2*time.Minute, i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "300 fetches parked on both partitions", func() bool {
		return partitionParked(n, "idle", 0) == 300 && partitionParked(n, "idle", 1) == 300
	})
	for _, c := range conns {
		c.Close()
	}
	eventually(t, 10*time.Second, "the hung-up connections' descriptors to be closed", func() bool { return n.openFDs() <= baseline })
	eventually(t, 10*time.Second, "the partitions to forget the abandoned fetches", func() bool {
		return partitionParked(n, "idle", 0) == 0 && partitionParked(n, "idle", 1) == 0
	})
	// A fetch that stays is still woken by new records.
	reply := longPoll(t, n, "idle", 1, time.Minute)
	produceAll(t, n.client(kgo.DefaultProduceTopic("idle"), kgo.RecordPartitioner(kgo.ManualPartitioner())), []*kgo.Record{{Partition: 1, Value: []byte("wake")}})
	if records, _ := fetchedRecords(t, <-reply); records != 1 {
		t.Fatalf("the remaining long poll got %d records, want 1", records)
	}
}

// longPollFrame is a whole Fetch v12 request frame for partitions [0, partitions) of
// topic from offset 0, waiting up to maxWait for a byte.
func longPollFrame(topic string, partitions int32, maxWait time.Duration, correlationID int32) []byte {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID, req.MinBytes, req.MaxBytes, req.MaxWaitMillis = -1, 1, 1<<20, int32(maxWait.Milliseconds())
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("hangs-up")).AppendRequest(nil, req, correlationID)
}

// Clients that pipeline requests and never read the answers cannot make the node hold
// them: 200 connections each sending 200 requests for the metadata of 4,000 partitions
// (130 KiB an answer) used to make it hold up to 64 answers a connection, 3.8 GB of
// resident memory; now a connection's next such request waits, unhandled, while 256 KiB
// of its answers are unread (about 300 MiB in all).
func TestClientsThatNeverReadHoldBoundedMemory(t *testing.T) {
	if raceBuilt(t) {
		t.Skip("the race detector's shadow memory makes the node's resident size no measure")
	}
	n := startNode(t, "")
	ctx := testContext(t)
	adm := n.admin()
	var names []string
	for i := range 400 {
		names = append(names, fmt.Sprintf("wide-%03d-%040d", i, 0))
	}
	for i := 0; i < len(names); i += 100 {
		if _, err := adm.CreateTopics(ctx, 10, 1, nil, names[i:i+100]...); err != nil {
			t.Fatal(err)
		}
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("never-reads")).AppendRequest(nil, req, 1)
	before := n.peakRSS()
	answered := func() float64 { return n.scrapeMetrics().sum("chronik_requests_total", `api="Metadata"`) }
	start := answered()

	var conns []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", n.kafkaAddr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(bytes.Repeat(frame, 200)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the node stops answering: every connection is then waiting for its
	// client to read.
	last, since := answered(), time.Now()
	eventually(t, 60*time.Second, "the node to stop answering clients that do not read", func() bool {
		if now := answered(); now != last {
			last, since = now, time.Now()
		}
		return time.Since(since) > time.Second
	})
	grew := n.peakRSS() - before
	t.Logf("%.0f answers made, peak resident memory grew %d MiB", last-start, grew>>20)
	if grew > 1<<30 {
		t.Fatalf("the node's peak resident memory grew %d MiB for 200 clients that never read; want it bounded", grew>>20)
	}
	for _, c := range conns {
		c.Close()
	}
	// They are gone, and the node serves the rest.
	if got := n.topicNames(ctx); len(got) != len(names) {
		t.Fatalf("%d topics listed after the clients left, want %d", len(got), len(names))
	}
}
