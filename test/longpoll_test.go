package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// longPoll sends a Fetch of partitions 0 and 1 of topic from offset 0 that may wait
// maxWait for minBytes, and delivers its response (or the error) on the channel.
func longPoll(t *testing.T, n *node, topic string, minBytes int32, maxWait time.Duration) <-chan *kmsg.FetchResponse {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MinBytes, req.MaxBytes = -1, minBytes, 1<<20
	req.MaxWaitMillis = int32(maxWait.Milliseconds())
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 2; p++ {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	cl := n.rawClient()
	out := make(chan *kmsg.FetchResponse, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), maxWait+30*time.Second)
		defer cancel()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Errorf("long-poll fetch: %v", err)
		}
		out <- resp
	}()
	// Both partitions hold the fetch before the test produces anything.
	eventually(t, 10*time.Second, "the fetch to park on both partitions", func() bool {
		return partitionParked(n, topic, 0) > 0 && partitionParked(n, topic, 1) > 0
	})
	return out
}

// partitionParked is how many fetches are parked on the partition; 0 while it is not open.
func partitionParked(n *node, topic string, partition int32) int64 {
	p, _ := findPartitionInfo(n, topic, partition)
	return p.ParkedFetches
}

// fetchedRecords counts the records and record-set bytes of a fetch response.
func fetchedRecords(t *testing.T, resp *kmsg.FetchResponse) (records, bytes int) {
	t.Helper()
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("fetch %s/%d: error %d", rt.Topic, p.Partition, p.ErrorCode)
			}
			bytes += len(p.RecordBatches)
			batches, err := batch.Split(p.RecordBatches)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range batches {
				h, err := batch.Validate(b)
				if err != nil {
					t.Fatal(err)
				}
				records += int(h.NumRecords)
			}
		}
	}
	return records, bytes
}

// A parked fetch is answered as soon as a produce reaches one of its partitions, not
// when its wait is over.
func TestParkedFetchWakesOnProduce(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "wake", 2, nil)
	reply := longPoll(t, n, "wake", 1, 2*time.Minute)
	produceBatch(t, n.rawClient(), "wake", 1, batchtest.DefaultOptions(time.Now().UnixMilli()), sameTimestamp(3, "hello"))
	select {
	case resp := <-reply:
		if records, _ := fetchedRecords(t, resp); records != 3 {
			t.Fatalf("woken fetch returned %d records, want the 3 produced", records)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a fetch parked for 2 minutes was not woken by a produce within 30s")
	}
}

// A fetch with MinBytes waits until that much has accumulated over its partitions
// (fetch.min.bytes: "the request will wait for that much data to accumulate"), not just
// for the first produce: a consumer that asks for large responses gets them.
func TestFetchWaitsForMinBytes(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "minbytes", 2, nil)
	const batches = 6
	one := len(batchtest.Build(batchtest.DefaultOptions(0), sameTimestamp(1, "batch-0")))
	reply := longPoll(t, n, "minbytes", int32((batches-1)*one+1), 2*time.Minute)
	cl := n.rawClient()
	for i := 0; i < batches; i++ {
		// Alternate partitions: MinBytes counts what all of them hold.
		produceBatch(t, cl, "minbytes", int32(i%2), batchtest.DefaultOptions(time.Now().UnixMilli()), sameTimestamp(1, fmt.Sprintf("batch-%d", i)))
		if i < batches-1 {
			select {
			case resp := <-reply:
				records, size := fetchedRecords(t, resp)
				t.Fatalf("fetch for %d bytes answered after %d batches with %d records in %d bytes", (batches-1)*one+1, i+1, records, size)
			default:
			}
		}
	}
	select {
	case resp := <-reply:
		if records, size := fetchedRecords(t, resp); records != batches || size < (batches-1)*one+1 {
			t.Fatalf("fetch answered with %d records in %d bytes, want all %d batches", records, size, batches)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fetch not answered within 30s of its MinBytes arriving")
	}
}

// A fetch parked on a topic that is then deleted is answered at once, with the error
// that tells the consumer the partition is gone, as in Kafka; it used to wait out its
// MaxWaitMillis.
func TestParkedFetchAnsweredWhenItsTopicIsDeleted(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "vanishing", 2, nil)
	reply := longPoll(t, n, "vanishing", 1, 2*time.Minute)
	if r, err := n.admin().DeleteTopics(testContext(t), "vanishing"); err != nil || r["vanishing"].Err != nil {
		t.Fatalf("delete: %v %+v", err, r)
	}
	select {
	case resp := <-reply:
		if resp == nil {
			t.Fatal("no response")
		}
		// The partitions stop one after the other: the first one gone answers the fetch,
		// and a later one may still report itself empty.
		gone := 0
		for _, p := range resp.Topics[0].Partitions {
			switch p.ErrorCode {
			case kerr.UnknownTopicOrPartition.Code, kerr.NotLeaderForPartition.Code:
				gone++
			case 0:
			default:
				t.Fatalf("partition %d of the deleted topic: error %d", p.Partition, p.ErrorCode)
			}
		}
		if gone == 0 {
			t.Fatal("the fetch answered without telling the consumer any partition is gone")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a fetch parked for 2 minutes on a deleted topic was not answered within 30s")
	}
}
