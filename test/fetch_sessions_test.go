package test

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// Incremental fetch sessions (KIP-227), over the wire, by topic name (Fetch v12) and by
// topic id (v16): a full fetch with epoch 0 opens a session; an incremental fetch names
// no partition and gets only the partitions with news (records, a moved high watermark);
// a long-polling incremental fetch wakes for a produce to any session partition; a wrong
// epoch or an unknown session is refused; forgetting every partition closes the session.
func TestFetchSessionsSendOnlyWhatChanged(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "sessions", 3, nil)
	details, err := n.admin().ListTopics(testContext(t), "sessions")
	if err != nil {
		t.Fatal(err)
	}
	topicID := details["sessions"].ID
	ends := map[int32]int64{} // each partition's log end offset
	produce := func(partition int32) {
		t.Helper()
		ends[partition] += 2
		recs := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), batchtest.Values(2, 10))
		if r := produceRaw(t, n.rawClient(), "sessions", partition, recs); r.ErrorCode != 0 {
			t.Fatalf("produce to partition %d: error %d", partition, r.ErrorCode)
		}
	}
	produce(0)

	for _, version := range []int16{12, 16} {
		versions := kversion.Stable()
		versions.SetMaxKeyVersion(1, version)
		cl := n.client(kgo.MaxVersions(versions), kgo.RequestRetries(0)).SeedBrokers()[0]
		// fetch sends a fetch naming parts at their fetch offsets.
		fetch := func(id, epoch int32, maxWait int32, parts map[int32]int64) *kmsg.FetchResponse {
			t.Helper()
			req := kmsg.NewPtrFetchRequest()
			req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, maxWait, 1, 1<<20
			req.SessionID, req.SessionEpoch = id, epoch
			if len(parts) > 0 {
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = "sessions", topicID
				for p, offset := range parts {
					rp := kmsg.NewFetchRequestTopicPartition()
					rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, offset, 1<<20, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
			}
			resp, err := req.RequestWith(testContext(t), cl)
			if err != nil {
				t.Fatalf("fetch v%d: %v", version, err)
			}
			return resp
		}
		// partitions lists what a response carries: partition -> has records.
		partitions := func(resp *kmsg.FetchResponse) map[int32]bool {
			got := map[int32]bool{}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if rp.ErrorCode != 0 {
						t.Fatalf("v%d: partition %d: error %d", version, rp.Partition, rp.ErrorCode)
					}
					got[rp.Partition] = len(rp.RecordBatches) > 0
				}
			}
			return got
		}

		full := fetch(0, 0, 0, map[int32]int64{0: 0, 1: 0, 2: 0})
		if full.ErrorCode != 0 || full.SessionID == 0 {
			t.Fatalf("v%d full fetch with epoch 0: error %d, session %d; want a session", version, full.ErrorCode, full.SessionID)
		}
		if got := partitions(full); len(got) != 3 || !got[0] {
			t.Fatalf("v%d full fetch: partitions %v, want all three, 0 with records", version, got)
		}
		id := full.SessionID

		// The client moves the positions of the partitions that returned records past
		// them; nothing else changed, so the incremental fetch answers no partition.
		moved := map[int32]int64{}
		for p, records := range partitions(full) {
			if records {
				moved[p] = ends[p]
			}
		}
		if got := partitions(fetch(id, 1, 0, moved)); len(got) != 0 {
			t.Fatalf("v%d incremental fetch with nothing new: partitions %v, want none", version, got)
		}
		// A long poll on the session wakes for a produce to a partition it did not name.
		done := make(chan *kmsg.FetchResponse, 1)
		go func() { done <- fetch(id, 2, 10000, nil) }()
		eventually(t, 10*time.Second, "the incremental fetch to park on partition 2", func() bool {
			return partitionParked(n, "sessions", 2) > 0
		})
		produce(2)
		var woke *kmsg.FetchResponse
		select {
		case woke = <-done:
		case <-time.After(8 * time.Second):
			t.Fatalf("v%d: the parked incremental fetch did not wake for a produce", version)
		}
		if got := partitions(woke); len(got) != 1 || !got[2] {
			t.Fatalf("v%d incremental fetch after a produce to partition 2: partitions %v, want only 2, with records", version, got)
		}
		if woke.SessionID != id {
			t.Fatalf("v%d: session %d answered as %d", version, id, woke.SessionID)
		}

		if r := fetch(id, 2, 0, nil); r.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
			t.Fatalf("v%d: a repeated epoch got error %d, want INVALID_FETCH_SESSION_EPOCH", version, r.ErrorCode)
		}
		if r := fetch(id+1, 1, 0, nil); r.ErrorCode != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("v%d: an unknown session got error %d, want FETCH_SESSION_ID_NOT_FOUND", version, r.ErrorCode)
		}

		// Forgetting every partition closes the session.
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.SessionID, req.SessionEpoch = -1, 1<<20, id, 3
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic, ft.TopicID, ft.Partitions = "sessions", topicID, []int32{0, 1, 2}
		req.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{ft}
		closed, err := req.RequestWith(testContext(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if closed.ErrorCode != 0 || closed.SessionID != 0 {
			t.Fatalf("v%d fetch forgetting every partition: error %d, session %d; want no session", version, closed.ErrorCode, closed.SessionID)
		}
		if r := fetch(id, 4, 0, nil); r.ErrorCode != kerr.FetchSessionIDNotFound.Code {
			t.Fatalf("v%d: the closed session still answers (error %d)", version, r.ErrorCode)
		}
	}
}

// A consumer of many partitions (kgo opens a session and sends incremental fetches from
// then on) reads every record of every partition, in order, while a producer keeps
// writing to some of them at a time.
func TestSessionConsumerReadsEveryPartition(t *testing.T) {
	n := startNode(t, "")
	const partitions, perPartition = 24, 50
	createTopic(t, n, "many-sessions", partitions, nil)
	prod := n.client(kgo.DefaultProduceTopic("many-sessions"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	cons := n.client(kgo.ConsumeTopics("many-sessions"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx := testContext(t)
	go func() {
		for i := 0; i < perPartition; i++ {
			for p := int32(0); p < partitions; p += int32(1 + i%3) {
				prod.Produce(ctx, &kgo.Record{Partition: p, Value: []byte{byte(i)}}, nil)
			}
		}
		prod.Flush(ctx)
	}()
	want := map[int32][]byte{}
	for i := 0; i < perPartition; i++ {
		for p := int32(0); p < partitions; p += int32(1 + i%3) {
			want[p] = append(want[p], byte(i))
		}
	}
	total := 0
	for _, v := range want {
		total += len(v)
	}
	got := map[int32][]byte{}
	for count := 0; count < total; {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records", count, total)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("consume %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], r.Value[0])
			count++
		})
	}
	for p, v := range want {
		if !slices.Equal(got[p], v) {
			t.Fatalf("partition %d: read %v, want %v", p, got[p], v)
		}
	}
	// It read them through a session, which the metrics show.
	m := n.scrapeMetrics()
	if s, p := m.sum("chronik_fetch_sessions"), m.sum("chronik_fetch_session_partitions"); s < 1 || p < partitions {
		t.Fatalf("metrics show %v fetch sessions holding %v partitions; want the consumer's, with all %d", s, p, partitions)
	}
}

// max.incremental.fetch.session.cache.slots = 0 turns sessions off, as in Kafka: a full
// fetch asking for one is served without one, and the client goes on with full fetches.
func TestFetchSessionsCanBeTurnedOff(t *testing.T) {
	n := startNode(t, `max.incremental.fetch.session.cache.slots = 0`)
	createTopic(t, n, "no-sessions", 1, nil)
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<20, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "no-sessions"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
	rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	resp, err := req.RequestWith(testContext(t), n.rawClient())
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || resp.SessionID != 0 || len(resp.Topics) != 1 {
		t.Fatalf("full fetch asking for a session with sessions off: error %d, session %d, %d topics", resp.ErrorCode, resp.SessionID, len(resp.Topics))
	}
}
