package wire

import (
	"context"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// dataCluster is a Cluster whose partitions answer at once: partition 0 of every topic
// succeeds (a fetch returns fetchBytes), any other partition fails with NOT_LEADER.
type dataCluster struct {
	GroupCoordinator // not exercised here
	img              *metastore.Image
	fetchBytes       []byte
}

func (c *dataCluster) Image() *metastore.Image { return c.img }
func (c *dataCluster) Propose(context.Context, ...fsm.Command) ([]fsm.Result, error) {
	return nil, nil
}
func (c *dataCluster) Controller() int32 { return 1 }
func (c *dataCluster) code(tp actors.TopicPartition) int16 {
	if tp.Partition == 0 {
		return 0
	}
	return kerr.NotLeaderForPartition.Code
}
func (c *dataCluster) Produce(tp actors.TopicPartition, r *actors.ProduceRequest) {
	r.Reply <- actors.ProduceReply{Index: r.Index, Code: c.code(tp)}
}
func (c *dataCluster) Fetch(tp actors.TopicPartition, r *actors.FetchRequest) {
	rep := actors.FetchReply{Index: r.Index, Code: c.code(tp), HighWatermark: 1}
	if rep.Code == 0 {
		rep.Records = c.fetchBytes
	}
	r.Reply <- rep
}
func (c *dataCluster) Watch(actors.TopicPartition, *actors.WatchRequest)                 {}
func (c *dataCluster) ListOffsets(actors.TopicPartition, *actors.ListOffsetsRequest)     {}
func (c *dataCluster) DeleteRecords(actors.TopicPartition, *actors.DeleteRecordsRequest) {}
func (c *dataCluster) EpochEnd(actors.TopicPartition, *actors.EpochEndRequest)           {}
func (c *dataCluster) DescribeProducers(actors.TopicPartition, *actors.DescribeProducersRequest) {
}
func (c *dataCluster) AllocateProducerID(context.Context) (int64, error) { return 0, nil }
func (c *dataCluster) PartitionViews() []actors.PartitionView            { return nil }

type recordingDataObserver struct {
	mu        sync.Mutex
	in, out   map[string]int
	errorsFor map[[2]int16]int
}

func newRecordingDataObserver() *recordingDataObserver {
	return &recordingDataObserver{in: map[string]int{}, out: map[string]int{}, errorsFor: map[[2]int16]int{}}
}

func (o *recordingDataObserver) TopicBytesIn(topic string, n int) {
	o.mu.Lock()
	o.in[topic] += n
	o.mu.Unlock()
}
func (o *recordingDataObserver) TopicBytesOut(topic string, n int) {
	o.mu.Lock()
	o.out[topic] += n
	o.mu.Unlock()
}
func (o *recordingDataObserver) PartitionError(key, code int16) {
	o.mu.Lock()
	o.errorsFor[[2]int16{key, code}]++
	o.mu.Unlock()
}

func TestDataObserverSeesTopicBytesAndPartitionErrors(t *testing.T) {
	img := metastore.NewImage()
	id := metastore.NewUUID()
	img.Topics["orders"] = &metastore.Topic{Name: "orders", ID: id, Partitions: make([]metastore.Partition, 2)}
	img.TopicIDs[id] = "orders"
	cl := &dataCluster{img: img, fetchBytes: make([]byte, 70)}
	h := NewHandlers(cl, BrokerConfig{NodeID: 1}, zerolog.Nop())
	obs := newRecordingDataObserver()
	h.ObserveData(obs)

	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks, produce.TimeoutMillis = 9, 1, 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "orders"
	for p, size := range []int{100, 30} {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition, pp.Records = int32(p), make([]byte, size)
		pt.Partitions = append(pt.Partitions, pp)
	}
	produce.Topics = append(produce.Topics, pt)
	if _, err := h.beginProduce(context.Background(), &Request{Key: 0, Version: 9, Body: produce})(); err != nil {
		t.Fatal(err)
	}

	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.MaxBytes = 13, 1<<20 // v13 names the topic by id
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = id
	for p := range 2 {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.PartitionMaxBytes = int32(p), 1<<20
		ft.Partitions = append(ft.Partitions, fp)
	}
	fetch.Topics = append(fetch.Topics, ft)
	if _, err := h.handleFetch(context.Background(), &Request{Key: 1, Version: 13, Body: fetch}); err != nil {
		t.Fatal(err)
	}

	if obs.in["orders"] != 130 {
		t.Errorf("bytes in for orders: %d, want 130 (both partitions' batches as received)", obs.in["orders"])
	}
	if obs.out["orders"] != 70 {
		t.Errorf("bytes out for orders: %d, want 70 (the topic named by id resolved)", obs.out["orders"])
	}
	nl := kerr.NotLeaderForPartition.Code
	if obs.errorsFor[[2]int16{0, nl}] != 1 || obs.errorsFor[[2]int16{1, nl}] != 1 || len(obs.errorsFor) != 2 {
		t.Errorf("partition errors %v, want one NOT_LEADER for Produce and one for Fetch", obs.errorsFor)
	}
}
