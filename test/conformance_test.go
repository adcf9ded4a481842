package test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// Conformance with the Java broker's answers, where a client would notice a difference.

// Kafka 4 refuses CreateTime batches stamped more than message.timestamp.after.max.ms
// (one hour by default) ahead of its clock, or more than before.max.ms (unlimited by
// default) behind it, with INVALID_TIMESTAMP; LogAppendTime topics restamp and accept.
func TestProduceTimestampBounds(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "ts-default", 1, nil)
	createTopic(t, n, "ts-narrow", 1, map[string]string{"message.timestamp.before.max.ms": "60000", "message.timestamp.after.max.ms": "86400000"})
	createTopic(t, n, "ts-append", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	cl := n.rawClient()
	now := time.Now()
	at := func(d time.Duration) []byte {
		return batchtest.Build(batchtest.DefaultOptions(now.Add(d).UnixMilli()), sameTimestamp(2, "r"))
	}
	for _, c := range []struct {
		topic string
		shift time.Duration
		want  int16
	}{
		{"ts-default", 2 * time.Hour, kerr.InvalidTimestamp.Code},
		{"ts-default", 30 * time.Minute, 0},
		{"ts-default", -365 * 24 * time.Hour, 0},
		{"ts-narrow", 2 * time.Hour, 0},
		{"ts-narrow", -2 * time.Hour, kerr.InvalidTimestamp.Code},
		{"ts-narrow", 48 * time.Hour, kerr.InvalidTimestamp.Code},
		{"ts-append", 48 * time.Hour, 0},
	} {
		p := produceRaw(t, cl, c.topic, 0, at(c.shift))
		if p.ErrorCode != c.want {
			t.Errorf("%s, stamped %v from now: error %d, want %d", c.topic, c.shift, p.ErrorCode, c.want)
		}
		if c.want != 0 && (p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "out of range") || p.BaseOffset != -1) {
			t.Errorf("%s, stamped %v from now: message %v, base offset %d", c.topic, c.shift, p.ErrorMessage, p.BaseOffset)
		}
	}
	// Refused batches took no offsets: two accepted batches of two records each.
	if l := offsetOf(t, cl, "ts-default", 0, -1); l != 4 {
		t.Fatalf("ts-default holds %d records, want 4", l)
	}

	// A producer whose clock runs two hours ahead gets the error for its record.
	prod := n.client(kgo.DefaultProduceTopic("ts-default"))
	err := prod.ProduceSync(testContext(t), &kgo.Record{Value: []byte("v"), Timestamp: now.Add(2 * time.Hour)}).FirstErr()
	if !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("kgo produce stamped two hours ahead: %v", err)
	}
}

// ListOffsets answers as Kafka does where clients read more than the offset: a partition
// named twice is INVALID_REQUEST wherever it appears, and answers without a record (no
// record at or after the timestamp, nothing tiered, an error) name no leader epoch.
func TestListOffsetsEdgeAnswers(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "lo", 2, nil)
	cl := n.rawClient()
	now := time.Now()
	produceBatch(t, cl, "lo", 0, batchtest.DefaultOptions(now.UnixMilli()), sameTimestamp(3, "r"))

	// One request naming partition 1 twice.
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "lo"
	for _, x := range []struct {
		partition int32
		ts        int64
	}{{0, -1}, {1, -2}, {1, -1}} {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = x.partition, x.ts, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 3 {
		t.Fatalf("response: %+v", resp.Topics)
	}
	for i, want := range []int16{0, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code} {
		if p := resp.Topics[0].Partitions[i]; p.ErrorCode != want || (want != 0 && (p.Offset != -1 || p.LeaderEpoch != -1)) {
			t.Errorf("answer %d of a request naming partition 1 twice: %+v, want error %d", i, p, want)
		}
	}
	if p := resp.Topics[0].Partitions[0]; p.Offset != 3 || p.LeaderEpoch != 0 {
		t.Errorf("latest offset of partition 0 beside a duplicate: %+v", p)
	}
	if p := listOffsetAtEpoch(t, cl, "lo", 1, -3, -1); p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 || p.LeaderEpoch != -1 {
		t.Errorf("max timestamp of an empty partition: %+v", p)
	}

	type answer struct {
		code          int16
		offset, stamp int64
		epoch         int32
	}
	for _, c := range []struct {
		what    string
		ts      int64
		current int32
		want    answer
	}{
		{"latest tiered", -5, -1, answer{0, -1, -1, -1}},
		{"a timestamp after every record", now.Add(time.Hour).UnixMilli(), -1, answer{0, -1, -1, -1}},
		{"the first record's timestamp", now.UnixMilli(), -1, answer{0, 0, now.UnixMilli(), 0}},
		{"latest, under a leader epoch newer than the partition's", -1, 7, answer{kerr.UnknownLeaderEpoch.Code, -1, -1, -1}},
	} {
		p := listOffsetAtEpoch(t, cl, "lo", 0, c.ts, c.current)
		if got := (answer{p.ErrorCode, p.Offset, p.Timestamp, p.LeaderEpoch}); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.what, got, c.want)
		}
	}
}

// Kafka accepts only magic 2 record batches in Produce v3+ and refuses a legacy message
// set there as INVALID_RECORD (UNSUPPORTED_FOR_MESSAGE_FORMAT is for v0-2 requests).
func TestProduceLegacyMessageSetInNewRequest(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "legacy", 1, nil)
	cl := n.rawClient()
	for _, magic := range []byte{0, 1} {
		// One message: offset, size, crc, magic, attributes, [timestamp (v1)], null key,
		// 1-byte value.
		msg := binary.BigEndian.AppendUint64(nil, 0)
		body := []byte{magic, 0}
		if magic == 1 {
			body = binary.BigEndian.AppendUint64(body, uint64(time.Now().UnixMilli()))
		}
		body = binary.BigEndian.AppendUint32(body, 0xffffffff)
		body = append(binary.BigEndian.AppendUint32(body, 1), 'v')
		msg = binary.BigEndian.AppendUint32(msg, uint32(4+len(body)))
		msg = append(binary.BigEndian.AppendUint32(msg, crc32.ChecksumIEEE(body)), body...)

		p := produceRaw(t, cl, "legacy", 0, msg)
		if p.ErrorCode != kerr.InvalidRecord.Code || p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "magic") {
			t.Errorf("magic %d message set in Produce v12: error %d %v", magic, p.ErrorCode, p.ErrorMessage)
		}
	}
	if l := offsetOf(t, cl, "legacy", 0, -1); l != 0 {
		t.Fatalf("legacy messages were appended: latest offset %d", l)
	}
}

// Kafka takes a CreateTime batch's max timestamp from its records, not from the header
// the producer wrote: lookups by time and by max timestamp find a record the header
// understated (kafkajs writes such headers; TestKafkaJSLookupsByTime drives it). The
// fetched batch carries the corrected header with a valid CRC.
func TestUnderstatedMaxTimestampIsCorrected(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "understated", 1, nil)
	cl := n.rawClient()
	now := time.Now().UnixMilli()
	o := batchtest.DefaultOptions(now - 60000)
	o.MaxTimestamp = now - 60000 // the header claims the first record is the newest
	recs := []batchtest.Record{{Value: []byte("old")}, {Value: []byte("new"), TimestampDelta: 60000}}
	if p := produceRaw(t, cl, "understated", 0, batchtest.Build(o, recs)); p.ErrorCode != 0 {
		t.Fatalf("produce: error %d", p.ErrorCode)
	}
	if off := offsetOf(t, cl, "understated", 0, now-1000); off != 1 {
		t.Fatalf("first record at or after a second ago: offset %d, want 1", off)
	}
	if p := listOffset(t, cl, "understated", 0, -3); p.Offset != 1 || p.Timestamp != now {
		t.Fatalf("max timestamp: offset %d at %d, want 1 at %d", p.Offset, p.Timestamp, now)
	}
	got := readPartition(t, n, "understated", 0, 0, 2) // kgo checks the CRC
	if got[1].Timestamp.UnixMilli() != now {
		t.Fatalf("record 1 read back stamped %v, want %d", got[1].Timestamp, now)
	}
}

// A producer's retry of a batch already in the log (its response was lost) is answered
// as Kafka answers it: with the original offset and, on a LogAppendTime topic, the time
// the original was stamped with; librdkafka and the Java client report that time as the
// record's timestamp. The retry was answered with LogAppendTime -1.
func TestRetryOnLogAppendTimeTopicAnswersTheOriginalStamp(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "lat-retry", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	cl := n.rawClient()
	iresp := initProducerID(t, cl)
	o := batchtest.DefaultOptions(time.Now().UnixMilli())
	o.ProducerID, o.ProducerEpoch, o.BaseSequence = iresp.ProducerID, iresp.ProducerEpoch, 0
	records := batchtest.Build(o, sameTimestamp(3, "r"))

	first := produceRaw(t, cl, "lat-retry", 0, append([]byte(nil), records...))
	if first.ErrorCode != 0 || first.BaseOffset != 0 || first.LogAppendTime <= 0 {
		t.Fatalf("first produce: error %d, base %d, log append time %d", first.ErrorCode, first.BaseOffset, first.LogAppendTime)
	}
	retry := produceRaw(t, cl, "lat-retry", 0, records)
	if retry.ErrorCode != 0 || retry.BaseOffset != 0 || retry.LogAppendTime != first.LogAppendTime {
		t.Fatalf("retry: error %d, base %d, log append time %d; want 0, 0, %d", retry.ErrorCode, retry.BaseOffset, retry.LogAppendTime, first.LogAppendTime)
	}
	if l := offsetOf(t, cl, "lat-retry", 0, -1); l != 3 {
		t.Fatalf("the partition holds %d records after a retry, want 3", l)
	}
}

// This broker keeps committed offsets and groups in its metadata store, not in Kafka's
// internal topics, so __consumer_offsets, __transaction_state and __share_group_state do
// not exist here, and nothing may create them as ordinary topics (which any producer could
// then write to, where Kafka refuses appends to internal topics). As Kafka treats its own
// internal topic kept outside the log layer (__cluster_metadata): CreateTopics is
// INVALID_REQUEST, and Metadata answers UNKNOWN_TOPIC_OR_PARTITION, flagged internal,
// instead of auto-creating them.
func TestInternalTopicNamesAreNeverCreated(t *testing.T) {
	n := startNode(t, "") // auto.create.topics.enable is on by default
	ctx := testContext(t)
	internal := []string{"__consumer_offsets", "__transaction_state", "__share_group_state"}

	// Metadata v12 asking for creation, and v3, where asking is creating.
	for _, version := range []int16{3, 12} {
		versions := kversion.Stable()
		versions.SetMaxKeyVersion(kmsg.Metadata.Int16(), version)
		cl := n.client(kgo.MaxVersions(versions), kgo.RequestRetries(0)).SeedBrokers()[0]
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = true
		for _, name := range internal {
			req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr(name)})
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range resp.Topics {
			if rt.ErrorCode != kerr.UnknownTopicOrPartition.Code || !rt.IsInternal || len(rt.Partitions) != 0 {
				t.Errorf("Metadata v%d for %s: error %d, internal %v, %d partitions; want UNKNOWN_TOPIC_OR_PARTITION, internal, none",
					version, *rt.Topic, rt.ErrorCode, rt.IsInternal, len(rt.Partitions))
			}
		}
	}

	// A producer writing to one gives up as for any topic that does not exist.
	prod := n.client(kgo.DefaultProduceTopic("__consumer_offsets"), kgo.UnknownTopicRetries(1))
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("kgo produce to __consumer_offsets: %v", err)
	}

	// CreateTopics refuses them, validating only or not.
	adm := n.admin()
	for _, validate := range []bool{true, false} {
		create := adm.CreateTopics
		if validate {
			create = adm.ValidateCreateTopics
		}
		res, err := create(ctx, 1, 1, nil, internal...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range internal {
			if r := res[name]; !errors.Is(r.Err, kerr.InvalidRequest) || !strings.Contains(r.ErrMessage, "internal topic") {
				t.Errorf("create %s (validate only: %v): %v %q; want INVALID_REQUEST naming the internal topic", name, validate, r.Err, r.ErrMessage)
			}
		}
	}
	if names := n.topicNames(ctx); len(names) != 0 {
		t.Fatalf("topics after all that: %v; want none", names)
	}
}

// Kafka's ProduceResponse v8+ names the records that failed validation (LogValidator's
// RecordError: the record's index in its batch and why), one entry per failing record, for
// out-of-range timestamps and for keyless records on a compacted topic. The Java producer
// fails the named records with that message and the others as victims of the batch.
func TestProduceNamesTheRecordsThatFailed(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "re-ts", 1, map[string]string{"message.timestamp.before.max.ms": "60000"})
	createTopic(t, n, "re-compact", 1, map[string]string{"cleanup.policy": "compact"})
	cl := n.rawClient()
	now := time.Now()
	hoursAgo := func(h int64) int64 { return -h * int64(time.Hour/time.Millisecond) }
	stamped := []batchtest.Record{
		{Key: []byte("k"), Value: []byte("fresh")},
		{Key: []byte("k"), Value: []byte("old"), TimestampDelta: hoursAgo(2)},
		{Key: []byte("k"), Value: []byte("fresh")},
		{Key: []byte("k"), Value: []byte("older"), TimestampDelta: hoursAgo(3)},
	}
	keyless := []batchtest.Record{{Value: []byte("a")}, {Key: []byte("k"), Value: []byte("b")}, {Value: []byte("c")}}

	for _, c := range []struct {
		name, topic string
		codec       int8
		records     []batchtest.Record
		code        int16
		indexes     []int32
		says        string
	}{
		{"timestamps", "re-ts", batch.CodecNone, stamped, kerr.InvalidTimestamp.Code, []int32{1, 3}, "out of range"},
		{"timestamps gzip", "re-ts", batch.CodecGzip, stamped, kerr.InvalidTimestamp.Code, []int32{1, 3}, "out of range"},
		{"keyless", "re-compact", batch.CodecNone, keyless, kerr.InvalidRecord.Code, []int32{0, 2}, "without key"},
		{"keyless lz4", "re-compact", batch.CodecLZ4, keyless, kerr.InvalidRecord.Code, []int32{0, 2}, "without key"},
	} {
		opts := batchtest.DefaultOptions(now.UnixMilli())
		opts.Codec = c.codec
		p := produceRaw(t, cl, c.topic, 0, batchtest.Build(opts, c.records))
		if p.ErrorCode != c.code || p.BaseOffset != -1 {
			t.Errorf("%s: error %d at base offset %d, want %d", c.name, p.ErrorCode, p.BaseOffset, c.code)
			continue
		}
		var got []int32
		for _, e := range p.ErrorRecords {
			got = append(got, e.RelativeOffset)
			if e.ErrorMessage == nil || !strings.Contains(*e.ErrorMessage, c.says) {
				t.Errorf("%s: record %d: message %v, want one saying %q", c.name, e.RelativeOffset, e.ErrorMessage, c.says)
			}
		}
		if !slices.Equal(got, c.indexes) {
			t.Errorf("%s: record errors name records %v, want %v", c.name, got, c.indexes)
		}
	}
}

// ListOffsets MAX_TIMESTAMP (-3) names the record holding the largest timestamp and that
// record's timestamp. Kafka finds it in the batch whatever the log start
// (RecordBatch.offsetOfMaxTimestamp walks the whole batch), so after DeleteRecords cut
// into the batch below that record it still answers with it; the answer was the batch's
// last offset beside the deleted record's timestamp, a pair no record has.
func TestListOffsetsMaxTimestampAfterDeleteRecordsCutItsBatch(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "maxts", 1, nil)
	cl := n.rawClient()
	first := time.Now().Add(-time.Minute).UnixMilli()
	newest := first + 50000
	produceBatch(t, cl, "maxts", 0, batchtest.DefaultOptions(first), []batchtest.Record{
		{Value: []byte("a")}, {Value: []byte("newest"), TimestampDelta: newest - first}, {Value: []byte("c")},
	})
	check := func(when string) {
		t.Helper()
		if p := listOffset(t, cl, "maxts", 0, -3); p.ErrorCode != 0 || p.Offset != 1 || p.Timestamp != newest || p.LeaderEpoch != 0 {
			t.Errorf("max timestamp %s: error %d, offset %d stamped %d, epoch %d; want offset 1 stamped %d, epoch 0",
				when, p.ErrorCode, p.Offset, p.Timestamp, p.LeaderEpoch, newest)
		}
	}
	check("before DeleteRecords")
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "maxts", Partition: 0, At: 2})
	resps, err := n.admin().DeleteRecords(testContext(t), offsets)
	if err != nil || resps.Error() != nil {
		t.Fatalf("DeleteRecords before offset 2: %v %v", err, resps.Error())
	}
	check("after DeleteRecords before offset 2")
}
