package wire

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// The seed corpus lives in testdata/fuzz/{FuzzProduceHandler,FuzzFetchHandler}: valid
// requests at old, flexible and topic-id versions for the fake cluster's topic, acks=0,
// a corrupt batch, unknown topics and partitions, long polls and a fetch session id.

// fuzzTopicID is the id of fuzzTopic, the one topic the fake cluster hosts (3 partitions).
var fuzzTopicID = metastore.UUID{0x5e, 0xed, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}

const fuzzTopic = "t"

// fakeCluster serves the data path the way partition actors answer it, without actors:
// produce runs the real record batch validation, fetch serves one stored batch of three
// records, long polls are woken at once. Handlers run on it exactly as on a node.
type fakeCluster struct {
	GroupCoordinator // not exercised here
	img              *metastore.Image
	stored           []byte // offsets 0-2
}

func newFakeCluster() *fakeCluster {
	img := metastore.NewImage()
	img.Brokers[1] = metastore.Broker{ID: 1, Host: "127.0.0.1", Port: 9092}
	t := &metastore.Topic{Name: fuzzTopic, ID: fuzzTopicID}
	for range 3 {
		t.Partitions = append(t.Partitions, metastore.Partition{Replicas: []int32{1}, Leader: 1, ISR: []int32{1}})
	}
	img.Topics[fuzzTopic] = t
	img.TopicIDs[fuzzTopicID] = fuzzTopic
	return &fakeCluster{img: img, stored: batchtest.Build(batchtest.DefaultOptions(1700000000000), batchtest.Values(3, 10))}
}

func (f *fakeCluster) hosts(tp actors.TopicPartition) bool {
	t := f.img.Topics[tp.Topic]
	return t != nil && tp.Partition >= 0 && int(tp.Partition) < len(t.Partitions)
}

func (f *fakeCluster) Image() *metastore.Image { return f.img }
func (f *fakeCluster) Controller() int32       { return 1 }
func (f *fakeCluster) Propose(context.Context, ...fsm.Command) ([]fsm.Result, error) {
	return nil, errors.New("the fake cluster has no metadata log")
}
func (f *fakeCluster) AllocateProducerID(context.Context) (int64, error) { return 1000, nil }
func (f *fakeCluster) PartitionViews() []actors.PartitionView            { return nil }

func (f *fakeCluster) Produce(tp actors.TopicPartition, r *actors.ProduceRequest) {
	rep := actors.ProduceReply{Index: r.Index, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	switch batches, err := batch.Split(r.Records); {
	case !f.hosts(tp):
		rep.Code = kerr.UnknownTopicOrPartition.Code
	case err != nil || len(batches) == 0:
		rep.Code = kerr.CorruptMessage.Code
	default:
		for _, b := range batches {
			if _, err := batch.Validate(b); err != nil {
				rep.Code = kerr.CorruptMessage.Code
			}
		}
		if rep.Code == 0 {
			rep.BaseOffset, rep.LogStartOffset = 3, 0
		}
	}
	r.Reply <- rep
}

func (f *fakeCluster) Fetch(tp actors.TopicPartition, r *actors.FetchRequest) {
	rep := actors.FetchReply{Index: r.Index, HighWatermark: 3, LogStartOffset: 0, LeaderEpoch: 0}
	switch {
	case !f.hosts(tp):
		rep.Code, rep.HighWatermark, rep.LogStartOffset = kerr.UnknownTopicOrPartition.Code, -1, -1
	case r.Offset < 0 || r.Offset > 3:
		rep.Code = kerr.OffsetOutOfRange.Code
	case r.Offset < 3 && r.MaxBytes > 0: // 0 asks for the offsets only
		rep.Records = f.stored
	}
	r.Reply <- rep
}

func (f *fakeCluster) Watch(_ actors.TopicPartition, r *actors.WatchRequest) {
	select {
	case r.Notify <- struct{}{}:
	default:
	}
}

func (f *fakeCluster) ListOffsets(_ actors.TopicPartition, r *actors.ListOffsetsRequest) {
	r.Reply <- actors.ListOffsetsReply{Index: r.Index, Offset: 3, Timestamp: -1}
}

func (f *fakeCluster) DeleteRecords(_ actors.TopicPartition, r *actors.DeleteRecordsRequest) {
	r.Reply <- actors.DeleteRecordsReply{Index: r.Index, LowWatermark: 0}
}

func (f *fakeCluster) EpochEnd(_ actors.TopicPartition, r *actors.EpochEndRequest) {
	r.Reply <- actors.EpochEndReply{Index: r.Index, LeaderEpoch: 0, EndOffset: 3}
}

func (f *fakeCluster) DescribeProducers(tp actors.TopicPartition, r *actors.DescribeProducersRequest) {
	rep := actors.DescribeProducersReply{Index: r.Index}
	if !f.hosts(tp) {
		rep.Code = kerr.UnknownTopicOrPartition.Code
	}
	r.Reply <- rep
}

// runDataHandler serves one decoded request through the real handler for its key, on the
// fake cluster, and fails if the handler does not return promptly.
func runDataHandler(t *testing.T, body kmsg.Request) (kmsg.Response, error) {
	t.Helper()
	return runHandlerOn(t, newFakeCluster(), body)
}

// runHandlerOn is runDataHandler on a given fake cluster.
func runHandlerOn(t *testing.T, cluster *fakeCluster, body kmsg.Request) (kmsg.Response, error) {
	t.Helper()
	h := NewHandlers(cluster, BrokerConfig{NodeID: 1, NumPartitions: 1, ReplicationFactor: 1}, zerolog.Nop())
	var api *API
	for _, a := range h.APIs() {
		if a.Key == body.Key() {
			api = &a
		}
	}
	if api == nil {
		t.Fatalf("no handler for key %d", body.Key())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &Request{Key: body.Key(), Version: body.GetVersion(), Body: body}
	var resp kmsg.Response
	var err error
	if api.Begin != nil {
		resp, err = api.Begin(ctx, req)()
	} else {
		resp, err = api.Handle(ctx, req)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s v%d handler did not answer within 10s", kmsg.NameForKey(body.Key()), body.GetVersion())
	}
	return resp, err
}

// decodesAsClient encodes resp at version as the server would and decodes it as a client would.
func decodesAsClient(t *testing.T, resp kmsg.Response, version int16) {
	t.Helper()
	resp.SetVersion(version)
	check := resp.RequestKind().ResponseKind()
	check.SetVersion(version)
	if err := check.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("%s v%d response does not decode: %v", kmsg.NameForKey(resp.Key()), version, err)
	}
}

// FuzzProduceHandler decodes arbitrary bytes as a Produce request body (v0-13) and serves
// it: no panic, an answer for every partition asked about (or none at all for acks=0),
// and a response a client can decode.
func FuzzProduceHandler(f *testing.F) {
	f.Fuzz(func(t *testing.T, version uint8, body []byte) {
		req := kmsg.NewPtrProduceRequest()
		req.Version = int16(version % 14)
		if req.ReadFrom(body) != nil {
			return
		}
		resp, err := runDataHandler(t, req)
		if req.Acks == 0 {
			if resp != nil {
				t.Fatal("acks=0 produce got a response")
			}
			return // an error closes the connection, which is how acks=0 failures show
		}
		if err != nil || resp == nil {
			t.Fatalf("produce v%d: no response (%v)", req.Version, err)
		}
		pr := resp.(*kmsg.ProduceResponse)
		if len(pr.Topics) != len(req.Topics) {
			t.Fatalf("%d topics asked, %d answered", len(req.Topics), len(pr.Topics))
		}
		for i, rt := range pr.Topics {
			if len(rt.Partitions) != len(req.Topics[i].Partitions) {
				t.Fatalf("topic %d: %d partitions asked, %d answered", i, len(req.Topics[i].Partitions), len(rt.Partitions))
			}
			for j, p := range rt.Partitions {
				if p.Partition != req.Topics[i].Partitions[j].Partition {
					t.Fatalf("answer %d/%d is for partition %d, asked %d", i, j, p.Partition, req.Topics[i].Partitions[j].Partition)
				}
				if p.ErrorCode == 0 && p.BaseOffset < 0 {
					t.Fatalf("partition %d accepted without a base offset", p.Partition)
				}
			}
		}
		decodesAsClient(t, resp, req.Version)
	})
}

// FuzzFetchHandler decodes arbitrary bytes as a Fetch request body (v4-17) and serves it:
// no panic, every partition answered unless the whole request is refused, data only with
// a high watermark, and a response a client can decode. The fake cluster wakes long polls
// at once, but a fetch whose MinBytes the data cannot reach rightly waits out its
// MaxWaitMillis (as in Kafka), so the wait is capped at 100 ms: a hang is still caught.
func FuzzFetchHandler(f *testing.F) {
	f.Fuzz(func(t *testing.T, version uint8, body []byte) {
		req := kmsg.NewPtrFetchRequest()
		req.Version = int16(4 + int(version)%14)
		if req.ReadFrom(body) != nil {
			return
		}
		req.MaxWaitMillis = min(req.MaxWaitMillis, 100)
		resp, err := runDataHandler(t, req)
		if err != nil || resp == nil {
			t.Fatalf("fetch v%d: no response (%v)", req.Version, err)
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 {
			decodesAsClient(t, resp, req.Version)
			return
		}
		if len(fr.Topics) != len(req.Topics) {
			t.Fatalf("%d topics asked, %d answered", len(req.Topics), len(fr.Topics))
		}
		for i, rt := range fr.Topics {
			if len(rt.Partitions) != len(req.Topics[i].Partitions) {
				t.Fatalf("topic %d: %d partitions asked, %d answered", i, len(req.Topics[i].Partitions), len(rt.Partitions))
			}
			for _, p := range rt.Partitions {
				if len(p.RecordBatches) > 0 && (p.ErrorCode != 0 || p.HighWatermark < 0) {
					t.Fatalf("partition %d: data with error %d, high watermark %d", p.Partition, p.ErrorCode, p.HighWatermark)
				}
			}
		}
		decodesAsClient(t, resp, req.Version)
	})
}
