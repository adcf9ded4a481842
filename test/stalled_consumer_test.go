package test

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// Two consumers that hang with large Fetches in flight (a stopped process, a wedged
// client: their socket buffers full, their connections open) hold some of the node's
// fetch budget until they read or go, but the other consumers keep getting records.
// A hung consumer's Fetch used to take up to 55 MiB of the budget (64 MiB here; by
// default a quarter of a container's memory limit), and another consumer's Fetch waited
// for all it asked for (50 MiB, franz-go's and librdkafka's default, once it reads a
// dozen partitions): it got empty answers for as long as the hung one stayed connected,
// up to connections.max.idle.ms (10 minutes).
func TestHungConsumersDoNotStarveOthers(t *testing.T) {
	const budget = 64 << 20
	n := startNode(t, nodeConfig("queued.max.fetch.bytes = 67108864"))
	const partitions, batches, perBatch = 16, 3, 15
	createTopic(t, n, "hoard", partitions, nil)
	// 45 MiB in batches of 960 KiB, 3 a partition.
	raw := n.rawClient()
	value := make([]byte, 64<<10)
	for p := range int32(partitions) {
		for range batches {
			var recs []batchtest.Record
			for range perBatch {
				recs = append(recs, batchtest.Record{Value: value})
			}
			if r := produceRaw(t, raw, "hoard", p, batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), recs)); r.ErrorCode != 0 {
				t.Fatalf("fill partition %d: error %d", p, r.ErrorCode)
			}
		}
	}

	for c := range 2 {
		conn := dialSmallReceiveBuffer(t, n.kafkaAddr)
		defer conn.Close()
		for i := range int32(4) {
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := conn.Write(wholeTopicFetchFrame("hoard", partitions, 4<<20, i)); err != nil {
				t.Fatalf("hung consumer %d: send fetch %d: %v", c, i, err)
			}
		}
	}
	eventually(t, 10*time.Second, "the hung consumers' fetches to hold records", func() bool {
		return n.scrapeMetrics().sum("chronik_queued_fetch_bytes") > 16<<20
	})

	// A consumer reading up to 4 MiB a partition asks for 50 MiB (kgo's default
	// FetchMaxBytes) in a Fetch.
	cl := n.client(kgo.ConsumeTopics("hoard"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(4<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const records = partitions * batches * perBatch
	got := 0
	for got < records && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				t.Errorf("fetch %s/%d: %v", topic, p, err)
			}
		})
		got += fs.NumRecords()
	}
	m := n.scrapeMetrics()
	held := m.sum("chronik_queued_fetch_bytes")
	if got < records {
		t.Fatalf("another consumer read %d of %d records in 10 s while two hung consumers held %d MiB of the %d MiB fetch budget",
			got, records, int64(held)>>20, budget>>20)
	}
	if held > budget+4<<20 { // a read may overshoot by a batch
		t.Fatalf("the node holds %d MiB of fetched records for a %d MiB budget", int64(held)>>20, budget>>20)
	}
}

// dialSmallReceiveBuffer connects with a receive buffer of a few KiB, so that a client
// that does not read holds up the node's writes after a few MiB (the node's send buffer)
// rather than after its own receive buffer too.
func dialSmallReceiveBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// wholeTopicFetchFrame is a Fetch v11 frame for partitions [0, partitions) of topic from
// offset 0, partitionMax bytes each, up to 55 MiB in all.
func wholeTopicFetchFrame(topic string, partitions int32, partitionMax int32, correlationID int32) []byte {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = 11, -1, 100, 55<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, partitionMax, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("hung")).AppendRequest(nil, req, correlationID)
}
