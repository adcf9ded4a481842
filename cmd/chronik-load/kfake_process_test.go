package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMain lets the test binary play the kfake-process child, as chronik-load itself
// does when a kfake-process target starts it.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == kfakeServeCommand {
		if err := serveKfake(os.Args[2]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A kfake-process target is a broker in another process: records produced to it can be
// consumed back, its CPU time is readable, and Close ends the process.
func TestKfakeProcessTarget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k, err := startKfakeProcess(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := createTopic(ctx, k, "t", 1); err != nil {
		k.Close()
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DefaultProduceTopic("t"), kgo.ConsumeTopics("t"))
	if err != nil {
		k.Close()
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "hello" {
		t.Fatalf("consumed %d records, want the one produced", len(recs))
	}
	cl.Close()
	if _, ok := k.CPU(); !ok {
		t.Fatal("no CPU time for the kfake process")
	}
	pid := k.cmd.Process.Pid
	if err := k.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, ok := processCPU(pid); ok {
		t.Fatalf("process %d still running after Close", pid)
	}
}
