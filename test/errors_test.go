package test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

func TestUnknownTopicWithAutoCreateOff(t *testing.T) {
	n := startNode(t, "auto.create.topics.enable = false")
	createTopic(t, n, "exists", 2, nil)
	ctx := testContext(t)
	cl := n.rawClient()

	// Metadata asking for creation gets UNKNOWN_TOPIC_OR_PARTITION and creates nothing.
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("missing")
	meta.Topics = append(meta.Topics, mt)
	meta.AllowAutoTopicCreation = true
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata for a missing topic: %+v", mresp.Topics)
	}

	records := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), sameTimestamp(3, "r"))
	if p := produceRaw(t, cl, "missing", 0, records); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("produce to a missing topic: error %d", p.ErrorCode)
	}
	if p := produceRaw(t, cl, "exists", 2, records); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("produce to partition 2 of a 2-partition topic: error %d", p.ErrorCode)
	}
	if p := fetchRaw(t, cl, "missing", 0, 0); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("fetch from a missing topic: error %d", p.ErrorCode)
	}

	// A client producing to it gives up with that error once its retries are spent.
	prod := n.client(kgo.DefaultProduceTopic("missing"), kgo.UnknownTopicRetries(1))
	err = prod.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("kgo produce to a missing topic: %v", err)
	}
	if names := n.topicNames(ctx); !slices.Equal(names, []string{"exists"}) {
		t.Fatalf("topics after asking for a missing one: %v", names)
	}
}

func TestFetchOutOfRange(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "oor", 1, nil)
	cl := n.rawClient()
	produceBatch(t, cl, "oor", 0, batchtest.DefaultOptions(time.Now().UnixMilli()), sameTimestamp(10, "r"))

	for _, off := range []int64{11, 1000, -5} {
		p := fetchRaw(t, cl, "oor", 0, off)
		if p.ErrorCode != kerr.OffsetOutOfRange.Code || len(p.RecordBatches) != 0 {
			t.Fatalf("fetch at %d: error %d with %d bytes", off, p.ErrorCode, len(p.RecordBatches))
		}
		if p.HighWatermark != 10 || p.LogStartOffset != 0 {
			t.Fatalf("fetch at %d: high watermark %d, log start %d", off, p.HighWatermark, p.LogStartOffset)
		}
	}
	// The log end itself is in range: nothing yet, no error.
	if p := fetchRaw(t, cl, "oor", 0, 10); p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 10 {
		t.Fatalf("fetch at the log end: %+v", p)
	}

	// A consumer told to start past the end is reset by the out-of-range answer to its
	// reset offset (the start here) and reads everything.
	cons := n.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"oor": {0: kgo.NewOffset().At(500)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testContext(t)
	var got []*kgo.Record
	for len(got) < 10 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumer reset from 500 read %d records", len(got))
		}
		got = append(got, fs.Records()...)
	}
	checkContiguous(t, "records after the reset", got, 0)
}

func TestOversizedBatch(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "small", 1, map[string]string{"max.message.bytes": "1024"})
	cl := n.rawClient()

	big := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), batchtest.Values(1, 2000))
	p := produceRaw(t, cl, "small", 0, big)
	if p.ErrorCode != kerr.MessageTooLarge.Code || p.ErrorMessage == nil || !bytes.Contains([]byte(*p.ErrorMessage), []byte("max.message.bytes")) {
		t.Fatalf("produce of a %d-byte batch: error %d %v", len(big), p.ErrorCode, p.ErrorMessage)
	}

	// A real producer gets MESSAGE_TOO_LARGE for the record (incompressible, so the
	// batch stays over the limit) and can go on with smaller ones.
	prod := n.client(kgo.DefaultProduceTopic("small"))
	value := make([]byte, 4000)
	rand.Read(value)
	if err := prod.ProduceSync(testContext(t), &kgo.Record{Value: value}).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("kgo produce of 4000 random bytes: %v", err)
	}
	small := &kgo.Record{Value: []byte("fits")}
	produceAll(t, n.client(kgo.DefaultProduceTopic("small")), []*kgo.Record{small})
	if small.Offset != 0 {
		t.Fatalf("first accepted record at offset %d: a refused batch took offsets", small.Offset)
	}
	got := readPartition(t, n, "small", 0, 0, 1)
	if string(got[0].Value) != "fits" {
		t.Fatalf("partition holds %q", got[0].Value)
	}
}

// TestCorruptBatchRefused: corrupt batches and malformed payloads are refused whole, and
// the partition goes on taking good batches at the offsets they would have had.
func TestCorruptBatchRefused(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "crc", 1, nil)
	cl := n.rawClient()
	now := time.Now().UnixMilli()

	gz := batchtest.DefaultOptions(now)
	gz.Codec = batch.CodecGzip
	for name, b := range map[string][]byte{
		"flipped value byte":      flipByte(batchtest.Build(batchtest.DefaultOptions(now), sameTimestamp(5, "r")), -3),
		"flipped compressed byte": flipByte(batchtest.Build(gz, sameTimestamp(5, "r")), -10),
		"flipped crc":             flipByte(batchtest.Build(batchtest.DefaultOptions(now), sameTimestamp(5, "r")), 18),
		"truncated":               batchtest.Build(batchtest.DefaultOptions(now), sameTimestamp(5, "r"))[:70],
	} {
		p := produceRaw(t, cl, "crc", 0, b)
		if p.ErrorCode != kerr.CorruptMessage.Code {
			t.Errorf("%s: error %d, want CORRUPT_MESSAGE", name, p.ErrorCode)
		}
	}
	// Two batches for one partition: Kafka takes exactly one per partition from Produce
	// v3 on, and refuses the rest as INVALID_RECORD, writing neither; so must we, even when
	// both are sound.
	good := batchtest.Build(batchtest.DefaultOptions(now), sameTimestamp(5, "good"))
	if p := produceRaw(t, cl, "crc", 0, append(append([]byte{}, good...), good...)); p.ErrorCode != kerr.InvalidRecord.Code ||
		p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "exactly one record batch") {
		t.Fatalf("two batches for one partition: error %d %v, want INVALID_RECORD naming the rule", p.ErrorCode, p.ErrorMessage)
	}
	if l := offsetOf(t, cl, "crc", 0, -1); l != 0 {
		t.Fatalf("corrupt batches were appended: latest offset %d", l)
	}
	if base := produceBatch(t, cl, "crc", 0, batchtest.DefaultOptions(now), sameTimestamp(5, "good")); base != 0 {
		t.Fatalf("good batch after corrupt ones at %d", base)
	}
	got := readPartition(t, n, "crc", 0, 0, 5)
	if string(got[0].Value) != "good-0" || string(got[4].Value) != "good-4" {
		t.Fatalf("partition holds %q..%q", got[0].Value, got[4].Value)
	}
}

// flipByte inverts one byte of b, counting from the end when at is negative.
func flipByte(b []byte, at int) []byte {
	if at < 0 {
		at += len(b)
	}
	b[at] ^= 0xff
	return b
}

func TestProducerSequences(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "seq", 1, nil)
	cl := n.rawClient()

	iresp := initProducerID(t, cl)
	idem := func(seq int32, prefix string) []byte {
		o := batchtest.DefaultOptions(time.Now().UnixMilli())
		o.ProducerID, o.ProducerEpoch, o.BaseSequence = iresp.ProducerID, iresp.ProducerEpoch, seq
		return batchtest.Build(o, sameTimestamp(5, prefix))
	}
	expect := func(what string, records []byte, code int16, base int64) {
		t.Helper()
		p := produceRaw(t, n.rawClient(), "seq", 0, records)
		if p.ErrorCode != code || (code == 0 && p.BaseOffset != base) {
			t.Fatalf("%s: error %d base %d, want error %d base %d", what, p.ErrorCode, p.BaseOffset, code, base)
		}
	}

	first, second := idem(0, "first"), idem(5, "second")
	expect("sequence 0", first, 0, 0)
	expect("sequence 0 again (a retry)", first, 0, 0)
	expect("sequence 5", second, 0, 5)
	expect("sequence 0 once more", first, 0, 0)
	expect("sequence 5 again", second, 0, 5)
	expect("sequence 20 (a gap)", idem(20, "gap"), kerr.OutOfOrderSequenceNumber.Code, -1)
	expect("sequence 7 (overlaps)", idem(7, "overlap"), kerr.OutOfOrderSequenceNumber.Code, -1)

	// Retries are still recognised after kill -9: producer state is rebuilt from disk.
	n.restart()
	expect("sequence 5 after a restart", second, 0, 5)
	expect("sequence 10 after a restart", idem(10, "third"), 0, 10)
	expect("sequence 30 after a restart", idem(30, "gap"), kerr.OutOfOrderSequenceNumber.Code, -1)

	got := readPartition(t, n, "seq", 0, 0, 15)
	checkContiguous(t, "seq", got, 0)
	for i, prefix := range []string{"first", "second", "third"} {
		for j := 0; j < 5; j++ {
			if r := got[i*5+j]; string(r.Value) != prefix+"-"+string(rune('0'+j)) {
				t.Fatalf("offset %d holds %q", r.Offset, r.Value)
			}
		}
	}
	if l := offsetOf(t, n.rawClient(), "seq", 0, -1); l != 15 {
		t.Fatalf("latest offset %d after 3 distinct batches of 5", l)
	}
}

// acks=all needs min.insync.replicas in-sync replicas, as in Kafka: with fewer (here a
// topic asking for 2 on a single node) the produce is refused with NOT_ENOUGH_REPLICAS
// before anything is written, while acks=1 is served; lowering the setting lets acks=all
// through.
func TestAcksAllNeedsMinInsyncReplicas(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "isr", 1, map[string]string{"min.insync.replicas": "2"})
	cl := n.rawClient()
	ts := time.Now().UnixMilli()

	p := produceRaw(t, cl, "isr", 0, batchtest.Build(batchtest.DefaultOptions(ts), sameTimestamp(3, "all")))
	if p.ErrorCode != kerr.NotEnoughReplicas.Code || p.ErrorMessage == nil || !bytes.Contains([]byte(*p.ErrorMessage), []byte("min.insync.replicas")) {
		t.Fatalf("acks=all with 1 in-sync replica and min.insync.replicas=2: error %d %v", p.ErrorCode, p.ErrorMessage)
	}
	one := &kgo.Record{Value: []byte("acks=1")}
	produceAll(t, n.client(kgo.DefaultProduceTopic("isr"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()), []*kgo.Record{one})
	if one.Offset != 0 {
		t.Fatalf("acks=1 record at offset %d: the refused acks=all batch took offsets", one.Offset)
	}

	r, err := n.admin().AlterTopicConfigs(testContext(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: strp("1")}}, "isr")
	if err == nil {
		err = r[0].Err
	}
	if err != nil {
		t.Fatalf("alter min.insync.replicas: %v", err)
	}
	eventually(t, 10*time.Second, "acks=all to be accepted with min.insync.replicas=1", func() bool {
		return produceRaw(t, cl, "isr", 0, batchtest.Build(batchtest.DefaultOptions(ts), sameTimestamp(1, "later"))).ErrorCode == 0
	})
	if got := readPartition(t, n, "isr", 0, 0, 2); string(got[0].Value) != "acks=1" || string(got[1].Value) != "later-0" {
		t.Fatalf("partition holds %q, %q", got[0].Value, got[1].Value)
	}
}

// A consumer speaking Fetch below v10 predates zstd (KIP-110). Kafka answers such a fetch
// UNSUPPORTED_COMPRESSION_TYPE for a topic whose compression.type is zstd, where every
// batch is zstd, and serves any other topic as stored, zstd batches a producer chose
// included (KafkaApis' maybeConvertFetchedData); so does the broker. Clients that fetch
// below v10 and read zstd (Sarama set to Kafka 2.0, kafka-python 2.0, which always
// fetches with v4) then read everything of such topics, as from Kafka.
func TestZstdAndFetchBelowV10(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "zstd-producer", 1, nil)
	createTopic(t, n, "zstd-topic", 1, map[string]string{"compression.type": "zstd"})
	current := n.rawClient()
	var want []string
	for i, codec := range []int8{batch.CodecLZ4, batch.CodecNone, batch.CodecZstd, batch.CodecGzip} {
		opts := batchtest.DefaultOptions(time.Now().UnixMilli())
		opts.Codec = codec
		recs := sameTimestamp(5, fmt.Sprintf("batch-%d", i))
		for _, topic := range []string{"zstd-producer", "zstd-topic"} {
			if r := produceRaw(t, current, topic, 0, batchtest.Build(opts, recs)); r.ErrorCode != 0 {
				t.Fatalf("produce codec %d to %s: error %d", codec, topic, r.ErrorCode)
			}
		}
		for _, r := range recs {
			want = append(want, string(r.Value))
		}
	}

	old := n.client(kgo.MaxVersions(kversion.V2_0_0()), kgo.RequestRetries(0)).SeedBrokers()[0] // Fetch v8
	if r := fetchRaw(t, old, "zstd-topic", 0, 0); r.ErrorCode != kerr.UnsupportedCompressionType.Code || len(r.RecordBatches) != 0 {
		t.Errorf("Fetch v8 of a compression.type=zstd topic: error %d with %d bytes, want UNSUPPORTED_COMPRESSION_TYPE and none", r.ErrorCode, len(r.RecordBatches))
	}
	if r := fetchRaw(t, old, "zstd-topic", 10, 0); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("Fetch v8 of a partition the zstd topic does not have: error %d, want UNKNOWN_TOPIC_OR_PARTITION", r.ErrorCode)
	}
	r := fetchRaw(t, current, "zstd-topic", 0, 0)
	if recs, err := batchtest.DecodeAll(r.RecordBatches); r.ErrorCode != 0 || err != nil || len(recs) != 20 {
		t.Errorf("Fetch v12 of the zstd topic: error %d, %d records (%v), want the 20", r.ErrorCode, len(recs), err)
	}

	saramaRead := func(topic string) ([]string, error) {
		cfg := saramaConfig()
		cfg.Version = sarama.V2_0_0_0 // Fetch v7
		cfg.Consumer.Return.Errors = true
		cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
		pc := saramaPartition(t, n, cfg, topic, 0)
		var got []string
		for len(got) < len(want) {
			select {
			case m := <-pc.Messages():
				got = append(got, string(m.Value))
			case err := <-pc.Errors():
				return got, err
			case <-time.After(30 * time.Second):
				t.Fatalf("Sarama 2.0 consumer of %s: %d of %d records in 30s", topic, len(got), len(want))
			}
		}
		return got, nil
	}
	if got, err := saramaRead("zstd-producer"); err != nil || !slices.Equal(got, want) {
		t.Errorf("Sarama 2.0 consumer of a topic with a zstd batch among others: read %v (%v), want %v", got, err, want)
	}
	if got, err := saramaRead("zstd-topic"); !errors.Is(err, sarama.ErrUnsupportedCompressionType) || len(got) != 0 {
		t.Errorf("Sarama 2.0 consumer of a compression.type=zstd topic: read %d records, error %v; want UNSUPPORTED_COMPRESSION_TYPE", len(got), err)
	}
}
