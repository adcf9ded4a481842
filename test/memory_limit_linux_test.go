package test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memoryCgroup makes a memory cgroup limited to limit bytes for the test and returns its
// cgroup.procs file and a count of the OOM kills in it; it skips the test where no
// cgroup can be made (not root, no writable memory controller).
func memoryCgroup(t *testing.T, limit int64) (procs string, oomKills func() int64) {
	t.Helper()
	name := fmt.Sprintf("chronik-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	type layout struct{ parent, limitFile, eventsFile, eventsKey string }
	for _, l := range []layout{
		{"/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.oom_control", "oom_kill"}, // v1
		{"/sys/fs/cgroup", "memory.max", "memory.events", "oom_kill"},                        // v2
	} {
		dir := filepath.Join(l.parent, name)
		if os.Mkdir(dir, 0o755) != nil {
			continue
		}
		if os.WriteFile(filepath.Join(dir, l.limitFile), []byte(strconv.FormatInt(limit, 10)), 0o644) != nil {
			os.Remove(dir)
			continue
		}
		t.Cleanup(func() {
			// The node is killed by its own cleanup, registered later and so run first; a
			// cgroup can be removed once it holds no process.
			deadline := time.Now().Add(10 * time.Second)
			for os.Remove(dir) != nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		})
		events := filepath.Join(dir, l.eventsFile)
		return filepath.Join(dir, "cgroup.procs"), func() int64 {
			data, err := os.ReadFile(events)
			if err != nil {
				t.Fatalf("read %s: %v", events, err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, l.eventsKey+" "); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					return n
				}
			}
			return 0
		}
	}
	t.Skip("no writable memory cgroup (needs root and a cgroup v1 memory controller or cgroup v2 with memory enabled)")
	return "", nil
}

// pipelineFetchesNeverRead opens conns connections and sends each perConn large Fetches
// of topic (8 partitions) without reading any answer: a consumer that has stopped
// reading its socket. The node keeps what it read for them until it can write it.
func pipelineFetchesNeverRead(t *testing.T, addr, topic string, conns, perConn int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for c := range conns {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, conn)
		for i := range perConn {
			req := kmsg.NewPtrFetchRequest()
			req.Version, req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = 11, -1, 100, 50<<20
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			for p := range int32(8) {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, int64((c*perConn+i)*997%20000), 10<<20
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
			frame := binary.BigEndian.AppendUint32(nil, 0)
			frame = binary.BigEndian.AppendUint16(frame, uint16(req.Key()))
			frame = binary.BigEndian.AppendUint16(frame, uint16(req.Version))
			frame = binary.BigEndian.AppendUint32(frame, uint32(i))
			frame = binary.BigEndian.AppendUint16(frame, 4)
			frame = append(frame, "slow"...)
			frame = req.AppendTo(frame)
			binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
			// A node that stops reading (its request budget full, or itself stuck) must
			// not hang the test here; the test's checks find out what became of it.
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Write(frame); err != nil {
				break
			}
		}
	}
	return out
}

// A node in a container limited to 300 MiB fits its default budgets to the limit and
// survives consumers that pipeline large Fetches and stop reading. With the budgets
// sized for a big machine (512 MiB of fetched records alone) the kernel killed it in the
// second such round.
func TestNodeInAMemoryLimitedCgroupSurvivesSlowConsumers(t *testing.T) {
	if raceBuilt(t) {
		t.Skip("the race detector's shadow memory lies outside what the node can budget; the limit would kill it for that alone")
	}
	const limit = 300 << 20
	procs, oomKills := memoryCgroup(t, limit)
	n := newNode(t, "", "")
	n.cgroupProcs = procs
	n.start()
	if !n.logsContain(`"message":"memory"`, fmt.Sprintf(`"memory_limit":%d`, limit), fmt.Sprintf(`"queued_max_fetch_bytes":%d`, limit/4)) {
		t.Fatalf("the node did not report fitting its budgets to the cgroup's %d byte limit", limit)
	}

	ctx := testContext(t)
	createTopic(t, n, "slow", 8, nil)
	cl := n.client(kgo.DefaultProduceTopic("slow"), kgo.ProducerLinger(5*time.Millisecond))
	value := make([]byte, 1000)
	for range 240_000 { // 240 MB, 30 MB a partition
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("fill: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	for round := range 3 {
		conns := pipelineFetchesNeverRead(t, n.kafkaAddr, "slow", 32, 8)
		// The slow consumers' records pile up in the node until every one of their
		// Fetches has read what the budget let it (or, with budgets too big for the limit,
		// until the kernel kills the node).
		var held, limit, lastHeld float64
		var lastAt time.Time
		eventually(t, 60*time.Second, "the node to settle holding records for the consumers that stopped reading", func() bool {
			select {
			case err := <-n.exited:
				n.exited <- err // for the cleanup's kill, which waits for it
				t.Fatalf("round %d: the node exited (%v) with %d OOM kills in its cgroup", round, err, oomKills())
			default:
			}
			if time.Since(lastAt) < 500*time.Millisecond {
				return false
			}
			m := n.scrapeMetrics()
			held, limit = m.sum("chronik_queued_fetch_bytes"), m.sum("chronik_queued_fetch_bytes_limit")
			settled := held > 0 && held == lastHeld && m.sum("chronik_queued_fetch_waiters") == 0
			lastHeld, lastAt = held, time.Now()
			return settled
		})
		t.Logf("round %d: fetch budget holds %d of %d MiB; heap in use %d MiB", round, int64(held)>>20, int64(limit)>>20,
			int64(n.scrapeMetrics().sum("go_memstats_heap_inuse_bytes"))>>20)
		// Meanwhile it serves everyone else.
		res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("round %d", round))})
		if err := res.FirstErr(); err != nil {
			t.Fatalf("round %d: produce while slow consumers hold the node's fetch budget: %v", round, err)
		}
		for _, c := range conns {
			c.Close()
		}
		if got := oomKills(); got != 0 {
			t.Fatalf("round %d: %d OOM kills in the node's cgroup", round, got)
		}
	}
	n.waitHealthy(10 * time.Second)
}

// One Fetch naming 3.5 million partitions (98 MB, under socket.request.max.bytes) is
// refused and its connection closed, and the node in a container limited to 300 MiB
// serves on. It used to be admitted alone, as any request larger than the request
// budget is, and its handling took the node past the limit: the kernel killed it.
func TestNodeInAMemoryLimitedCgroupRefusesAHugeFetch(t *testing.T) {
	refusesHugeRequest(t, "Fetch of 3.5 million partitions", hugeFetchFrame("wide", 3_500_000))
}

// Likewise one Produce of twelve million partition entries without records (96 MB): the
// node used to handle it, reaching 5.2 GB on a big machine, and the kernel killed it in
// a container limited to 300 MiB.
func TestNodeInAMemoryLimitedCgroupRefusesAHugeProduce(t *testing.T) {
	refusesHugeRequest(t, "Produce of 12 million partitions", hugeProduceFrame("wide", 12_000_000))
}

// refusesHugeRequest sends frame to a node in a 300 MiB memory cgroup holding the topic
// "wide" and checks that the node closes the connection without answering, keeps
// serving, and is never OOM-killed.
func refusesHugeRequest(t *testing.T, what string, frame []byte) {
	t.Helper()
	if raceBuilt(t) {
		t.Skip("the race detector's shadow memory lies outside what the node can budget; the limit would kill it for that alone")
	}
	procs, oomKills := memoryCgroup(t, 300<<20)
	n := newNode(t, "", "")
	n.cgroupProcs = procs
	n.start()
	createTopic(t, n, "wide", 4, nil)

	conn, err := net.Dial("tcp", n.kafkaAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(frame); err != nil {
		t.Logf("writing the %s: %v (the node closed the connection)", what, err)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the node answered a %s; want the connection closed", what)
	}
	// The refusal is at once; a node handling the request is killed within seconds.
	eventually(t, 20*time.Second, "the node to serve metadata after the "+what, func() bool {
		select {
		case err := <-n.exited:
			n.exited <- err // for the cleanup's kill, which waits for it
			t.Fatalf("the node exited (%v) with %d OOM kills in its cgroup", err, oomKills())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, n.client())
		return err == nil
	})
	if got := n.topicNames(testContext(t)); len(got) != 1 {
		t.Fatalf("topics after the %s: %v", what, got)
	}
	if got := oomKills(); got != 0 {
		t.Fatalf("%d OOM kills in the node's cgroup", got)
	}
}

// hugeProduceFrame is a Produce v7 frame (acks 1) naming partitions [0, partitions) of
// topic (partition numbers modulo 4), each without records, encoded by hand.
func hugeProduceFrame(topic string, partitions int) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0) // size, set below
	b = binary.BigEndian.AppendUint16(b, 0)    // Produce
	b = binary.BigEndian.AppendUint16(b, 7)
	b = binary.BigEndian.AppendUint32(b, 1) // correlation id
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "huge"...)
	b = binary.BigEndian.AppendUint16(b, 0xffff) // no transactional id
	b = binary.BigEndian.AppendUint16(b, 1)      // acks
	b = binary.BigEndian.AppendUint32(b, 5000)   // timeout
	b = binary.BigEndian.AppendUint32(b, 1)      // one topic
	b = binary.BigEndian.AppendUint16(b, uint16(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint32(b, uint32(partitions))
	b = slices.Grow(b, partitions*8)
	for p := range partitions {
		b = binary.BigEndian.AppendUint32(b, uint32(p%4))
		b = binary.BigEndian.AppendUint32(b, 0xffffffff) // null records
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// hugeFetchFrame is a Fetch v11 frame naming partitions [0, partitions) of topic, encoded
// by hand: kmsg's structs for millions of partitions would take the test gigabytes.
func hugeFetchFrame(topic string, partitions int) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0) // size, set below
	b = binary.BigEndian.AppendUint16(b, 1)    // Fetch
	b = binary.BigEndian.AppendUint16(b, 11)
	b = binary.BigEndian.AppendUint32(b, 1) // correlation id
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "huge"...)
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // replica id -1
	b = binary.BigEndian.AppendUint32(b, 500)        // max wait
	b = binary.BigEndian.AppendUint32(b, 1)          // min bytes
	b = binary.BigEndian.AppendUint32(b, 50<<20)     // max bytes
	b = append(b, 0)                                 // isolation level
	b = binary.BigEndian.AppendUint32(b, 0)          // session id
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // session epoch -1
	b = binary.BigEndian.AppendUint32(b, 1)          // one topic
	b = binary.BigEndian.AppendUint16(b, uint16(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint32(b, uint32(partitions))
	b = slices.Grow(b, partitions*28+8)
	for p := range partitions {
		b = binary.BigEndian.AppendUint32(b, uint32(p%4))
		b = binary.BigEndian.AppendUint32(b, 0xffffffff) // current leader epoch -1
		b = binary.BigEndian.AppendUint64(b, 0)          // fetch offset
		b = binary.BigEndian.AppendUint64(b, 0xffffffffffffffff)
		b = binary.BigEndian.AppendUint32(b, 1<<20)
	}
	b = binary.BigEndian.AppendUint32(b, 0) // no forgotten topics
	b = binary.BigEndian.AppendUint16(b, 0) // rack ""
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}
