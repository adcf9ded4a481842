package test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
