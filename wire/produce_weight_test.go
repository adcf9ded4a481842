package wire

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceFrame is a Produce request frame (no size prefix) at version with topics topics
// of partitions partitions each, every partition carrying records (nil for none).
func produceFrame(version int16, topics, partitions int, records []byte) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = version, 1, 5000
	for ti := range topics {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "topic-" + string(rune('a'+ti%26))
		rt.TopicID[0] = byte(ti)
		for p := range partitions {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = int32(p), records
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	id := "weigh-test"
	return appendRequest(nil, 7, &id, req)[4:]
}

// The walk counts what kmsg encodes, at every Produce version the node serves, classic
// and flexible, with and without records and a transactional id.
func TestProduceEntriesCountsEveryVersion(t *testing.T) {
	for v := int16(3); v <= 13; v++ {
		for _, c := range []struct {
			topics, partitions int
			records            []byte
		}{{0, 0, nil}, {1, 1, nil}, {3, 7, []byte("not really a batch")}, {2, 300, nil}} {
			frame := produceFrame(v, c.topics, c.partitions, c.records)
			n, ok := produceEntries(frame)
			if !ok || n != c.topics*c.partitions {
				t.Errorf("v%d, %d topics of %d partitions: counted %d (ok %v)", v, c.topics, c.partitions, n, ok)
			}
		}
	}
	if _, ok := produceEntries(appendRequest(nil, 1, nil, kmsg.NewPtrMetadataRequest())[4:]); ok {
		t.Error("a Metadata request was walked as a Produce")
	}
	frame := produceFrame(9, 2, 5, nil)
	if _, ok := produceEntries(frame[:len(frame)-3]); ok {
		t.Error("a truncated Produce was walked")
	}
}

// A Produce naming many partitions with few or no records weighs what handling them
// holds; one carrying real batches weighs about its size.
func TestProduceIsWeighedByItsEntries(t *testing.T) {
	sparse := produceFrame(9, 1, 10_000, nil) // about 90 KB
	if w := weighProduce(sparse); w < 10_000*produceEntryWeight {
		t.Fatalf("a Produce of 10,000 empty partitions weighs %d", w)
	}
	dense := produceFrame(9, 1, 2, make([]byte, 64<<10))
	if w := weighProduce(dense); w > len(dense)+2*produceEntryWeight {
		t.Fatalf("a Produce of two 64 KiB batches (%d bytes) weighs %d", len(dense), w)
	}
}

// A Produce whose handling would hold more than twice the request budget (millions of
// partition entries without records) is refused before it is decoded, its connection
// closed; a Produce of the same size carrying batches is handled. Unweighed, one 96 MB
// Produce of twelve million entries took the node to 5.2 GB, and the kernel killed it
// in a container limited to 300 MiB.
func TestProduceTooLargeToHandleIsRefused(t *testing.T) {
	handled := make(chan int32, 2)
	produce := API{Key: 0, MinVersion: 3, MaxVersion: 11, Handle: func(ctx context.Context, req *Request) (kmsg.Response, error) {
		handled <- req.CorrelationID
		return req.Body.(*kmsg.ProduceRequest).ResponseKind(), nil
	}}
	ts := startServer(t, ServerConfig{MaxQueuedRequestBytes: 1 << 20}, produce)

	sparse := kmsg.NewPtrProduceRequest()
	sparse.Version, sparse.Acks, sparse.TimeoutMillis = 9, 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	for p := range 20_000 { // about 180 KB, weighed 8 MB: more than twice the 1 MiB budget
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = int32(p)
		rt.Partitions = append(rt.Partitions, rp)
	}
	sparse.Topics = append(sparse.Topics, rt)
	dense := kmsg.NewPtrProduceRequest()
	dense.Version, dense.Acks, dense.TimeoutMillis = 9, 1, 5000
	rt = kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = make([]byte, 180<<10)
	rt.Partitions = append(rt.Partitions, rp)
	dense.Topics = append(dense.Topics, rt)
	resp := dense.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = 9
	refusedAndOthersServed(t, ts, handled, sparse, dense, resp)
}

// The walk never panics and never counts more entries than a frame can hold; where kmsg
// decodes the frame, it counts what kmsg decoded.
func FuzzProduceEntries(f *testing.F) {
	f.Add(produceFrame(3, 1, 2, nil))
	f.Add(produceFrame(9, 2, 3, []byte("records")))
	f.Add(produceFrame(13, 1, 1, nil))
	f.Fuzz(func(t *testing.T, frame []byte) {
		n, ok := produceEntries(frame)
		if !ok {
			return
		}
		if n > len(frame)/5 {
			t.Fatalf("counted %d entries in %d bytes", n, len(frame))
		}
		h, rest, err := parseRequestHeader(frame)
		if err != nil {
			t.Fatalf("walked a frame whose header does not parse: %v", err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version = h.version
		if req.IsFlexible() {
			if rest, err = skipTaggedFields(rest); err != nil {
				return
			}
		}
		if req.ReadFrom(rest) != nil {
			return
		}
		decoded := 0
		for _, rt := range req.Topics {
			decoded += len(rt.Partitions)
		}
		if decoded != n {
			t.Fatalf("counted %d entries, kmsg decoded %d", n, decoded)
		}
	})
}
