package wire

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// A fetch in which no partition can be read (every topic id unknown, say, after the
// topic was deleted) answers at once, as Kafka does, instead of long-polling partitions
// it does not have: the consumer learns about the deleted topic without waiting out
// MaxWaitMillis.
func TestFetchOfOnlyUnknownTopicIDsDoesNotWait(t *testing.T) {
	req := fetchOfUnknownTopicID()
	resp, err := runDataHandler(t, req) // fails the test if the handler waits 10s
	fr, ok := resp.(*kmsg.FetchResponse)
	if err != nil || !ok || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 || fr.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("fetch of an unknown topic id answered %+v, %v", resp, err)
	}
}

// An error answer to a Fetch (UNSUPPORTED_VERSION for v0-3, say) carries an empty record
// set in each partition: a null one is a decoding failure to Sarama and librdkafka.
func TestFetchErrorResponseHasEmptyRecordSets(t *testing.T) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 3
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "old"
	rt.Partitions = append(rt.Partitions, kmsg.NewFetchRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	reg, err := NewRegistry(NewHandlers(nil, BrokerConfig{}, zerolog.Nop()).APIs()...)
	if err != nil {
		t.Fatal(err)
	}
	back := roundTrip[*kmsg.FetchResponse](t, reg.ErrorResponse(req, kerr.UnsupportedVersion.Code))
	p := back.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.UnsupportedVersion.Code || p.RecordBatches == nil {
		t.Fatalf("Fetch v3 error response: error %d, record set nil=%v", p.ErrorCode, p.RecordBatches == nil)
	}
}

// losingCluster never answers fetches of partition 1, as when its actor panics on the
// read or stops with it still queued.
type losingCluster struct{ *fakeCluster }

func (c losingCluster) Fetch(tp actors.TopicPartition, r *actors.FetchRequest) {
	if tp.Partition != 1 {
		c.fakeCluster.Fetch(tp, r)
	}
}

// A partition that never answers a fetch read does not hold up the response: the other
// partitions' records go out, and it gets NOT_LEADER_OR_FOLLOWER, so the client looks
// the leader up again and retries, rather than the connection stalling until the client
// gives up on it.
func TestFetchAnswersWithoutAPartitionThatNeverReplies(t *testing.T) {
	h := NewHandlers(losingCluster{newFakeCluster()}, BrokerConfig{NodeID: 1}, zerolog.Nop())
	h.partitionReadTimeout = 50 * time.Millisecond
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MinBytes, req.MaxWaitMillis, req.MaxBytes = 12, -1, 1, 500, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = fuzzTopic
	for _, p := range []int32{0, 1} {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := h.handleFetch(ctx, &Request{Key: req.Key(), Version: req.Version, Body: req})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("fetch with a silent partition: %v (context: %v)", err, ctx.Err())
	}
	ps := resp.(*kmsg.FetchResponse).Topics[0].Partitions
	if ps[0].ErrorCode != 0 || len(ps[0].RecordBatches) == 0 {
		t.Fatalf("partition 0: error %d, %d bytes of records; want its records", ps[0].ErrorCode, len(ps[0].RecordBatches))
	}
	if ps[1].ErrorCode != kerr.NotLeaderForPartition.Code || len(ps[1].RecordBatches) != 0 {
		t.Fatalf("partition 1: error %d, %d bytes; want NOT_LEADER_OR_FOLLOWER and no records", ps[1].ErrorCode, len(ps[1].RecordBatches))
	}
}

// The session epoch, not the session id, tells a full fetch from an incremental one
// (KIP-227, Kafka's FetchMetadata.isFull): a full fetch is served whatever id it carries
// (kafka-go's Client.Fetch sends id -1 with epoch -1); epoch 0 opens a session, -1 asks
// for none; an incremental fetch of a session that does not exist is refused with
// FETCH_SESSION_ID_NOT_FOUND.
func TestFetchSessionsByEpoch(t *testing.T) {
	for _, c := range []struct {
		id, epoch int32
		want      int16
	}{
		{0, -1, 0},  // sessionless: librdkafka, kafkajs
		{0, 0, 0},   // asks for a session
		{-1, -1, 0}, // kafka-go
		{7, 0, 0},   // a full fetch closing session 7, which does not exist, and opening one
		{7, -1, 0},
		{7, 3, kerr.FetchSessionIDNotFound.Code}, // incremental: no such session
		{0, 1, kerr.FetchSessionIDNotFound.Code},
	} {
		req := fetchOfUnknownTopicID()
		req.SessionID, req.SessionEpoch = c.id, c.epoch

		resp, err := runDataHandler(t, req)
		fr, ok := resp.(*kmsg.FetchResponse)
		if err != nil || !ok {
			t.Fatalf("session %d epoch %d: %+v, %v", c.id, c.epoch, resp, err)
		}
		if opened := fr.SessionID != 0; fr.ErrorCode != c.want || opened != (c.epoch == 0) {
			t.Errorf("session %d epoch %d: error %d, session id %d; want error %d and a session only for epoch 0", c.id, c.epoch, fr.ErrorCode, fr.SessionID, c.want)
		}
		if c.want == 0 && (len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1) {
			t.Errorf("session %d epoch %d: a full fetch answered %+v", c.id, c.epoch, fr.Topics)
		}
	}
}

// fetchOfUnknownTopicID is a Fetch v13 of one partition of a topic id nobody has, that may
// wait 10 minutes for its first byte.
func fetchOfUnknownTopicID() *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MinBytes, req.MaxWaitMillis, req.MaxBytes = 13, -1, 1, 600_000, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = [16]byte{9, 9, 9}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// From v13 Produce and Fetch name topics only by id. A zero id names no topic: Kafka
// answers UNKNOWN_TOPIC_ID, and so must we, not look up a topic with an empty name.
func TestZeroTopicIDIsUnknownInProduceAndFetchV13(t *testing.T) {
	fetch := fetchOfUnknownTopicID()
	fetch.Topics[0].TopicID = [16]byte{}
	resp, err := runDataHandler(t, fetch)
	fr, ok := resp.(*kmsg.FetchResponse)
	if err != nil || !ok || len(fr.Topics) != 1 || fr.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("Fetch v13 of topic id zero answered %+v, %v; want UNKNOWN_TOPIC_ID", resp, err)
	}

	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks, produce.TimeoutMillis = 13, -1, 1000
	rt := kmsg.NewProduceRequestTopic()
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batchtest.Build(batchtest.DefaultOptions(1700000000000), batchtest.Values(1, 10))
	rt.Partitions = append(rt.Partitions, rp)
	produce.Topics = append(produce.Topics, rt)
	resp, err = runDataHandler(t, produce)
	pr, ok := resp.(*kmsg.ProduceResponse)
	if err != nil || !ok || len(pr.Topics) != 1 || pr.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("Produce v13 to topic id zero answered %+v, %v; want UNKNOWN_TOPIC_ID", resp, err)
	}
}

// A fetch asking for 1 GiB reads at most 55 MiB of a partition, as Kafka's
// fetch.max.bytes caps it: reads are held in memory until the response is written.
func TestFetchReadsAreCapped(t *testing.T) {
	c := newBacklog(1)
	h := NewHandlers(c, BrokerConfig{NodeID: 1}, zerolog.Nop())
	req := backlogFetch(1, 1<<30, 1<<30)
	if _, err := h.handleFetch(context.Background(), &Request{Key: req.Key(), Version: req.Version, Body: req}); err != nil {
		t.Fatal(err)
	}
	if got := c.largest; got == 0 || got > maxFetchBytes {
		t.Fatalf("a fetch asking for 1 GiB read up to %d bytes of a partition; want at most %d", got, maxFetchBytes)
	}
}

// backloggedCluster has partitions that each hold 1 MiB past any fetch offset, and counts
// what the reads ask for.
type backloggedCluster struct {
	*fakeCluster
	mu        sync.Mutex
	asked     int // the sum of every read's MaxBytes
	largest   int // the largest read's MaxBytes
	metaReads int // reads of the offsets only
}

const backlog = 1 << 20

func (c *backloggedCluster) Fetch(tp actors.TopicPartition, r *actors.FetchRequest) {
	c.mu.Lock()
	if r.MaxBytes > 0 {
		c.asked += r.MaxBytes
		c.largest = max(c.largest, r.MaxBytes)
	} else {
		c.metaReads++
	}
	c.mu.Unlock()
	rep := actors.FetchReply{Index: r.Index, HighWatermark: 1000, LogStartOffset: 0}
	if r.MaxBytes > 0 {
		rep.Records = make([]byte, min(r.MaxBytes, backlog))
	}
	r.Reply <- rep
}

// newBacklog is a cluster whose topic "backlog" has n partitions, each holding more
// records than one read takes.
func newBacklog(n int) *backloggedCluster {
	c := &backloggedCluster{fakeCluster: newFakeCluster()}
	c.img.Topics["backlog"] = &metastore.Topic{Name: "backlog", ID: metastore.UUID{7}, Partitions: make([]metastore.Partition, n)}
	return c
}

// backlogFetch is a Fetch v12 of every partition of "backlog", partMax bytes of each and
// maxBytes in all, that answers at once.
func backlogFetch(n int, partMax, maxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes = 12, -1, maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "backlog"
	for p := range int32(n) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, partMax, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// A consumer of many backlogged partitions asks for 1 MiB of each and 10 MiB in all:
// the broker reads about 10 MiB, not 1 MiB of every partition only to send 10 of them
// (every read is held in memory until the response is written), and every partition
// still gets its offsets, as Kafka answers.
func TestFetchOfManyPartitionsReadsNoMoreThanTheResponseHolds(t *testing.T) {
	const partitions, partMax, maxBytes = 200, 1 << 20, 10 << 20
	c := newBacklog(partitions)
	h := NewHandlers(c, BrokerConfig{NodeID: 1}, zerolog.Nop())
	req := backlogFetch(partitions, partMax, maxBytes)
	resp, err := h.handleFetch(context.Background(), &Request{Key: req.Key(), Version: req.Version, Body: req})
	if err != nil {
		t.Fatal(err)
	}
	if c.asked > maxBytes {
		t.Fatalf("reads asked for %d bytes in all for a response of at most %d", c.asked, maxBytes)
	}
	withData := 0
	for _, p := range resp.(*kmsg.FetchResponse).Topics[0].Partitions {
		if p.ErrorCode != 0 || p.HighWatermark != 1000 {
			t.Fatalf("partition %d: error %d, high watermark %d; every partition should get its offsets", p.Partition, p.ErrorCode, p.HighWatermark)
		}
		if len(p.RecordBatches) > 0 {
			withData++
		}
	}
	if withData != maxBytes/partMax || c.metaReads != partitions-withData {
		t.Fatalf("%d partitions with records and %d offset-only reads; want %d and %d", withData, c.metaReads, maxBytes/partMax, partitions-maxBytes/partMax)
	}
}
