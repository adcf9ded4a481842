package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
)

// kafka-go (segmentio) speaks the protocol with its own encoder: kafka.Writer and
// kafka.Client go through its newer protocol package, kafka.Reader and kafka.Conn through
// the older hand-written one (Fetch v10, Metadata v6, ListOffsets v1, JoinGroup v2,
// OffsetCommit v2 ...), so it sends versions and fields our other clients never do.

// kafkaGoLogger sends kafka-go's error log to the test log while the test runs; kafka-go
// logs from its own goroutines, which may outlive the test by a moment.
type kafkaGoLogger struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func newKafkaGoLogger(t *testing.T) *kafkaGoLogger {
	l := &kafkaGoLogger{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *kafkaGoLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("kafka-go: "+format, args...)
	}
}

// kafkaGoTransport returns a transport of the test's own. kafka-go's transport answers a
// writer's metadata questions from a cache it refreshes every 6 s (MetadataTTL) and,
// unless AllowAutoTopicCreation is set, reports a topic created by anyone else since then
// as UNKNOWN_TOPIC_OR_PARTITION without asking the broker; kafka.DefaultTransport is
// shared by the whole process, so a fresh one per writer sees the topics as they are.
func kafkaGoTransport(t *testing.T) *kafka.Transport {
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// kafkaGoWriter returns a writer to topic that records what it wrote: each message with
// the partition and offset the broker gave it (kafka-go fills them in for Completion).
func kafkaGoWriter(t *testing.T, n *node, topic string, acks kafka.RequiredAcks, codec kafka.Compression) (*kafka.Writer, func() []kafka.Message) {
	t.Helper()
	var (
		mu      sync.Mutex
		written []kafka.Message
	)
	w := &kafka.Writer{
		Addr:         kafka.TCP(n.kafkaAddr),
		Transport:    kafkaGoTransport(t),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: acks,
		Compression:  codec,
		BatchSize:    50,
		BatchTimeout: 5 * time.Millisecond,
		ErrorLogger:  newKafkaGoLogger(t),
		Completion: func(msgs []kafka.Message, err error) {
			if err != nil {
				return // WriteMessages returns it
			}
			mu.Lock()
			written = append(written, msgs...)
			mu.Unlock()
		},
	}
	t.Cleanup(func() { w.Close() })
	return w, func() []kafka.Message {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(written)
	}
}

func kafkaGoMessage(i int, ts time.Time) kafka.Message {
	return kafka.Message{
		Key:   []byte(fmt.Sprintf("key-%d", i%17)),
		Value: []byte(fmt.Sprintf("value-%d", i)),
		Headers: []kafka.Header{
			{Key: "i", Value: []byte(strconv.Itoa(i))},
			{Key: "empty", Value: []byte{}},
		},
		Time: ts,
	}
}

// byPartition groups messages by partition, each group in offset order.
func byPartition(msgs []kafka.Message) map[int][]kafka.Message {
	out := map[int][]kafka.Message{}
	for _, m := range msgs {
		out[m.Partition] = append(out[m.Partition], m)
	}
	for _, ms := range out {
		slices.SortFunc(ms, func(a, b kafka.Message) int { return int(a.Offset - b.Offset) })
	}
	return out
}

// sameKafkaGoMessage describes how got differs from want in key, value, headers and
// offset, or returns "".
func sameKafkaGoMessage(got, want kafka.Message) string {
	if string(got.Key) != string(want.Key) || string(got.Value) != string(want.Value) || got.Offset != want.Offset {
		return fmt.Sprintf("got %q=%q at %d, want %q=%q at %d", got.Key, got.Value, got.Offset, want.Key, want.Value, want.Offset)
	}
	if len(got.Headers) != len(want.Headers) {
		return fmt.Sprintf("%q has headers %v, want %v", got.Value, got.Headers, want.Headers)
	}
	for i, h := range want.Headers {
		if got.Headers[i].Key != h.Key || string(got.Headers[i].Value) != string(h.Value) {
			return fmt.Sprintf("%q header %d is %q=%q, want %q=%q", got.Value, i, got.Headers[i].Key, got.Headers[i].Value, h.Key, h.Value)
		}
	}
	return ""
}

// readKafkaGoPartition reads count messages of one partition from its first offset with
// a kafka.Reader that has no group.
func readKafkaGoPartition(t *testing.T, n *node, topic string, partition, count int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   []string{n.kafkaAddr},
		Topic:     topic,
		Partition: partition,
		MaxWait:   100 * time.Millisecond,
		// No lag polling: its goroutine logs "context canceled" when the reader closes.
		ReadLagInterval: -1,
		ErrorLogger:     newKafkaGoLogger(t),
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []kafka.Message
	for len(got) < count {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d after %d of %d messages: %v", topic, partition, len(got), count, err)
		}
		got = append(got, m)
	}
	return got
}

// TestKafkaGoWriterAndReader: kafka.Writer with acks all and one, uncompressed and with
// every codec kafka-go has, writes keyed messages with headers over several partitions;
// a kafka.Reader without a group reads each partition from its first offset and finds
// every message, in order, at the offset the writer was told.
func TestKafkaGoWriterAndReader(t *testing.T) {
	n := startNode(t, "")
	codecs := []struct {
		name  string
		codec kafka.Compression
	}{{"none", 0}, {"gzip", kafka.Gzip}, {"snappy", kafka.Snappy}, {"lz4", kafka.Lz4}, {"zstd", kafka.Zstd}}
	acks := []struct {
		name string
		acks kafka.RequiredAcks
	}{{"all", kafka.RequireAll}, {"one", kafka.RequireOne}}
	const partitions, count = 3, 240
	for _, a := range acks {
		for _, c := range codecs {
			t.Run("acks-"+a.name+"/"+c.name, func(t *testing.T) {
				topic := "kafkago-" + a.name + "-" + c.name
				createTopic(t, n, topic, partitions, nil)
				w, written := kafkaGoWriter(t, n, topic, a.acks, c.codec)
				base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
				var msgs []kafka.Message
				for i := 0; i < count; i++ {
					msgs = append(msgs, kafkaGoMessage(i, base.Add(time.Duration(i)*time.Millisecond)))
				}
				// Two calls: the second lands behind the first in every partition.
				if err := w.WriteMessages(testContext(t), msgs[:count/2]...); err != nil {
					t.Fatalf("write: %v", err)
				}
				if err := w.WriteMessages(testContext(t), msgs[count/2:]...); err != nil {
					t.Fatalf("write: %v", err)
				}
				sent := byPartition(written())
				if len(sent) != partitions {
					t.Fatalf("keys spread over %d partitions, want %d", len(sent), partitions)
				}
				total := 0
				for p, want := range sent {
					total += len(want)
					got := readKafkaGoPartition(t, n, topic, p, len(want))
					for i, m := range got {
						if m.Offset != int64(i) {
							t.Fatalf("partition %d: message %d at offset %d", p, i, m.Offset)
						}
						if diff := sameKafkaGoMessage(m, want[i]); diff != "" {
							t.Fatalf("partition %d offset %d: %s", p, i, diff)
						}
						if !m.Time.Equal(want[i].Time) {
							t.Fatalf("partition %d offset %d: timestamp %v, written with %v", p, i, m.Time, want[i].Time)
						}
					}
					// Order within a partition is the order of writing.
					for i := 1; i < len(got); i++ {
						prev, _ := strconv.Atoi(string(got[i-1].Headers[0].Value))
						cur, _ := strconv.Atoi(string(got[i].Headers[0].Value))
						if cur <= prev {
							t.Fatalf("partition %d: message %d read after %d", p, cur, prev)
						}
					}
				}
				if total != count {
					t.Fatalf("writer completed %d messages, wrote %d", total, count)
				}
				if c.codec != 0 {
					checkStoredCodec(t, n, topic, int8(c.codec))
				}
			})
		}
	}
}

// kafkaGoGroupReader returns a reader in group over topic that starts at the first offset
// when the group has no commit and commits only when told to.
func kafkaGoGroupReader(t *testing.T, n *node, group, topic string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{n.kafkaAddr},
		GroupID:           group,
		Topic:             topic,
		StartOffset:       kafka.FirstOffset,
		MaxWait:           100 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond,
		SessionTimeout:    6 * time.Second, // the broker's (and Kafka's) group.min.session.timeout.ms
		RebalanceTimeout:  3 * time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		ErrorLogger:       newKafkaGoLogger(t),
	})
}

// consumeKafkaGoGroup fetches count messages with r, commits them, and fails on any
// duplicate.
func consumeKafkaGoGroup(t *testing.T, r *kafka.Reader, count int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[[2]int64]bool{}
	var got []kafka.Message
	for len(got) < count {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch after %d of %d messages: %v", len(got), count, err)
		}
		at := [2]int64{int64(m.Partition), m.Offset}
		if seen[at] {
			t.Fatalf("message %d/%d (%q) delivered twice", m.Partition, m.Offset, m.Value)
		}
		seen[at] = true
		got = append(got, m)
	}
	if err := r.CommitMessages(ctx, got...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return got
}

// TestKafkaGoConsumerGroup: a kafka.Reader with a GroupID reads every message of a
// multi-partition topic once and commits; after it closes, a second reader in the group
// starts at the committed offsets and reads only what was written since.
func TestKafkaGoConsumerGroup(t *testing.T) {
	n := startNode(t, "")
	const topic, group, partitions = "kafkago-group", "kafkago-group", 4
	createTopic(t, n, topic, partitions, nil)
	w, written := kafkaGoWriter(t, n, topic, kafka.RequireAll, kafka.Snappy)
	write := func(from, count int) {
		var msgs []kafka.Message
		for i := from; i < from+count; i++ {
			msgs = append(msgs, kafkaGoMessage(i, time.Time{}))
		}
		if err := w.WriteMessages(testContext(t), msgs...); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	write(0, 400)
	first := byPartition(written())
	if len(first) != partitions {
		t.Fatalf("keys spread over %d partitions, want %d", len(first), partitions)
	}

	r1 := kafkaGoGroupReader(t, n, group, topic)
	got := consumeKafkaGoGroup(t, r1, 400)
	for p, want := range first {
		var mine []kafka.Message
		for _, m := range got {
			if m.Partition == p {
				mine = append(mine, m)
			}
		}
		if len(mine) != len(want) {
			t.Fatalf("partition %d: read %d messages, written %d", p, len(mine), len(want))
		}
		for i := range want {
			if diff := sameKafkaGoMessage(mine[i], want[i]); diff != "" {
				t.Fatalf("partition %d: %s", p, diff)
			}
		}
	}
	// kafka-go's DescribeGroups decodes the members' subscriptions and assignments.
	eventually(t, 10*time.Second, "the group to be stable", func() bool {
		g, ok := n.group(group)
		return ok && g.State == "Stable"
	})
	cl := &kafka.Client{Addr: kafka.TCP(n.kafkaAddr), Transport: kafkaGoTransport(t)}
	described, err := cl.DescribeGroups(testContext(t), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil || len(described.Groups) != 1 || described.Groups[0].Error != nil || described.Groups[0].GroupState != "Stable" ||
		len(described.Groups[0].Members) != 1 {
		t.Fatalf("describe groups: %v %+v", err, described)
	}
	member := described.Groups[0].Members[0]
	if !slices.Equal(member.MemberMetadata.Topics, []string{topic}) || len(member.MemberAssignments.Topics) != 1 ||
		member.MemberAssignments.Topics[0].Topic != topic || !slices.Equal(member.MemberAssignments.Topics[0].Partitions, []int{0, 1, 2, 3}) {
		t.Fatalf("described member %+v, want it subscribed to %s and assigned all 4 partitions", member, topic)
	}
	if err := r1.Close(); err != nil {
		t.Fatalf("close first reader: %v", err)
	}

	// The group's committed offsets are each partition's end, as kafka-go's client reads them.
	committed, err := cl.ConsumerOffsets(testContext(t), kafka.TopicAndGroup{Topic: topic, GroupId: group})
	if err != nil {
		t.Fatalf("consumer offsets: %v", err)
	}
	for p, want := range first {
		if committed[p] != int64(len(want)) {
			t.Fatalf("partition %d: committed %d, want %d (all of %v)", p, committed[p], len(want), committed)
		}
	}

	write(400, 200)
	r2 := kafkaGoGroupReader(t, n, group, topic)
	defer r2.Close()
	resumed := consumeKafkaGoGroup(t, r2, 200)
	for _, m := range resumed {
		i, _ := strconv.Atoi(string(m.Headers[0].Value))
		if i < 400 {
			t.Fatalf("second reader read %q at %d/%d, committed by the first", m.Value, m.Partition, m.Offset)
		}
	}
	firstOffset := map[int]int64{}
	for _, m := range resumed {
		if o, ok := firstOffset[m.Partition]; !ok || m.Offset < o {
			firstOffset[m.Partition] = m.Offset
		}
	}
	for p, o := range firstOffset {
		if o != committed[p] {
			t.Fatalf("partition %d: second reader started at %d, committed %d", p, o, committed[p])
		}
	}
}

// TestKafkaGoAdmin: what a kafka-go user does to manage topics, through kafka.Conn and
// kafka.Client: create, describe (metadata), list offsets (first, last, by time), delete.
func TestKafkaGoAdmin(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)

	conn, err := kafka.DialContext(ctx, "tcp", n.kafkaAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	controller, err := conn.Controller()
	if err != nil {
		t.Fatalf("controller: %v", err)
	}
	if addr := fmt.Sprintf("%s:%d", controller.Host, controller.Port); addr != n.kafkaAddr {
		t.Fatalf("controller at %s, node listens on %s", addr, n.kafkaAddr)
	}

	// CreateTopics through the connection, as kafka-go's README shows. Conn.CreateTopics
	// is idempotent by design: it swallows TOPIC_ALREADY_EXISTS, so the second call must
	// succeed and leave the topic as it was.
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: "kafkago-conn", NumPartitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatalf("conn create topics: %v", err)
	}
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: "kafkago-conn", NumPartitions: 5, ReplicationFactor: 1}); err != nil {
		t.Fatalf("creating it again: %v", err)
	}
	parts, err := conn.ReadPartitions("kafkago-conn")
	if err != nil {
		t.Fatalf("read partitions: %v", err)
	}
	if len(parts) != 3 {
		t.Fatalf("read partitions: %+v", parts)
	}
	for i, p := range parts {
		if p.Topic != "kafkago-conn" || p.ID != i || p.Leader.ID != controller.ID || len(p.Replicas) != 1 || len(p.Isr) != 1 {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}

	// CreateTopics through the client, with a config and one name that is invalid.
	cl := &kafka.Client{Addr: kafka.TCP(n.kafkaAddr), Transport: kafkaGoTransport(t)}
	created, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: "kafkago-client", NumPartitions: 2, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "3600000"}}},
		{Topic: "bad/name", NumPartitions: 1, ReplicationFactor: 1},
		{Topic: "kafkago-conn", NumPartitions: 1, ReplicationFactor: 1},
	}})
	if err != nil {
		t.Fatalf("client create topics: %v", err)
	}
	if err := created.Errors["kafkago-client"]; err != nil {
		t.Fatalf("create kafkago-client: %v", err)
	}
	if err := created.Errors["bad/name"]; !errors.Is(err, kafka.InvalidTopic) {
		t.Fatalf("create bad/name: %v, want %v", err, kafka.InvalidTopic)
	}
	if err := created.Errors["kafkago-conn"]; !errors.Is(err, kafka.TopicAlreadyExists) {
		t.Fatalf("create kafkago-conn again: %v, want %v", err, kafka.TopicAlreadyExists)
	}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"kafkago-client"}})
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(md.Brokers) != 1 || md.Controller.ID != controller.ID || len(md.Topics) != 1 ||
		md.Topics[0].Name != "kafkago-client" || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != 2 {
		t.Fatalf("metadata: %+v", md)
	}
	described, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "kafkago-client", ConfigNames: []string{"retention.ms"},
	}}})
	if err != nil || len(described.Resources) != 1 || len(described.Resources[0].ConfigEntries) != 1 ||
		described.Resources[0].ConfigEntries[0].ConfigValue != "3600000" {
		t.Fatalf("describe configs: %v %+v", err, described)
	}

	// Offsets: ten messages a second apart, then first, last and by time.
	w, _ := kafkaGoWriter(t, n, "kafkago-conn", kafka.RequireAll, 0)
	w.Balancer = kafka.BalancerFunc(func(kafka.Message, ...int) int { return 1 })
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var msgs []kafka.Message
	for i := 0; i < 10; i++ {
		msgs = append(msgs, kafkaGoMessage(i, base.Add(time.Duration(i)*time.Second)))
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
	leader, err := kafka.DialLeader(ctx, "tcp", n.kafkaAddr, "kafkago-conn", 1)
	if err != nil {
		t.Fatalf("dial leader: %v", err)
	}
	defer leader.Close()
	if o, err := leader.ReadFirstOffset(); err != nil || o != 0 {
		t.Fatalf("first offset %d, %v", o, err)
	}
	if o, err := leader.ReadLastOffset(); err != nil || o != 10 {
		t.Fatalf("last offset %d, %v", o, err)
	}
	if o, err := leader.ReadOffset(base.Add(3500 * time.Millisecond)); err != nil || o != 4 {
		t.Fatalf("offset at base+3.5s: %d, %v; want 4", o, err)
	}
	// Past the newest message Kafka finds no offset and answers -1 (KIP-79).
	if o, err := leader.ReadOffset(base.Add(time.Minute)); err != nil || o != -1 {
		t.Fatalf("offset after the last message: %d, %v; want -1", o, err)
	}
	// The first offset is the log start, read from the broker: move it with DeleteRecords
	// (kafka-go has no call for that).
	deleteTo := kadm.Offsets{}
	deleteTo.Add(kadm.Offset{Topic: "kafkago-conn", Partition: 1, At: 3})
	if res, err := n.admin().DeleteRecords(ctx, deleteTo); err != nil || res.Error() != nil {
		t.Fatalf("delete records: %v %v", err, res.Error())
	}
	if first, last, err := leader.ReadOffsets(); err != nil || first != 3 || last != 10 {
		t.Fatalf("offsets after deleting records below 3: %d to %d, %v", first, last, err)
	}

	// kafka.Client.Fetch (Fetch v11 with session id -1 and epoch -1, a full fetch without
	// a session) reads from the new log start. Like Kafka the broker answers with whole
	// batches, and unlike kafka.Reader, Client.Fetch hands them over as they are: the
	// caller skips the records before the offset it asked for.
	fetched, err := cl.Fetch(ctx, &kafka.FetchRequest{Topic: "kafkago-conn", Partition: 1, Offset: 3, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: time.Second})
	if err != nil || fetched.Error != nil || fetched.HighWatermark != 10 || fetched.LogStartOffset != 3 {
		t.Fatalf("client fetch: %v %+v", err, fetched)
	}
	for want := int64(3); want < 10; want++ {
		rec, err := fetched.Records.ReadRecord()
		for err == nil && rec.Offset < 3 {
			rec, err = fetched.Records.ReadRecord()
		}
		if err != nil {
			t.Fatalf("client fetch: record %d: %v", want, err)
		}
		value, err := io.ReadAll(rec.Value)
		if err != nil || rec.Offset != want || string(value) != fmt.Sprintf("value-%d", want) || !rec.Time.Equal(msgs[want].Time) {
			t.Fatalf("client fetch: record at %d is %q (%v) at %v, want %q at %d", rec.Offset, value, err, rec.Time, msgs[want].Value, want)
		}
	}

	// kafka.Client.ListOffsets sends one request per offset asked for; it keys each
	// by-time answer by the timestamp asked for, not the one the broker found.
	listed, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		"kafkago-conn": {kafka.FirstOffsetOf(1), kafka.LastOffsetOf(1), kafka.TimeOffsetOf(1, base.Add(1500*time.Millisecond)),
			kafka.FirstOffsetOf(2), kafka.LastOffsetOf(2)},
	}})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	if len(listed.Topics["kafkago-conn"]) != 2 {
		t.Fatalf("list offsets answered %+v", listed.Topics)
	}
	for _, p := range listed.Topics["kafkago-conn"] {
		if p.Error != nil {
			t.Fatalf("list offsets of partition %d: %v", p.Partition, p.Error)
		}
		switch p.Partition {
		case 1:
			if _, ok := p.Offsets[3]; p.FirstOffset != 3 || p.LastOffset != 10 || len(p.Offsets) != 1 || !ok {
				t.Fatalf("partition 1 offsets %+v, want 3 to 10 and offset 3 for base+1.5s (deleted below 3)", p)
			}
		case 2:
			if p.FirstOffset != 0 || p.LastOffset != 0 {
				t.Fatalf("empty partition 2 offsets %+v, want 0 to 0", p)
			}
		default:
			t.Fatalf("list offsets answered for partition %d", p.Partition)
		}
	}

	// DeleteTopics through both.
	if err := conn.DeleteTopics("kafkago-conn"); err != nil {
		t.Fatalf("conn delete topics: %v", err)
	}
	deleted, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{"kafkago-client", "kafkago-missing"}})
	if err != nil {
		t.Fatalf("client delete topics: %v", err)
	}
	if err := deleted.Errors["kafkago-client"]; err != nil {
		t.Fatalf("delete kafkago-client: %v", err)
	}
	if err := deleted.Errors["kafkago-missing"]; !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("delete kafkago-missing: %v, want %v", err, kafka.UnknownTopicOrPartition)
	}
	if names := n.topicNames(ctx); len(names) != 0 {
		t.Fatalf("topics left after deleting both: %v", names)
	}
	fresh := &kafka.Client{Addr: kafka.TCP(n.kafkaAddr), Transport: kafkaGoTransport(t)}
	if md, err := fresh.Metadata(ctx, &kafka.MetadataRequest{}); err != nil || len(md.Topics) != 0 {
		t.Fatalf("metadata after deleting both: %v %+v", err, md)
	}
	// Conn.ReadPartitions asks with AllowAutoTopicCreation (Metadata v6), so on a broker
	// that auto-creates, as Kafka does by default, it brings the name back as a new, empty
	// topic with num.partitions partitions.
	parts, err = conn.ReadPartitions("kafkago-conn")
	if err != nil || len(parts) != 1 {
		t.Fatalf("read partitions of a deleted topic: %v %+v", err, parts)
	}
	again, err := kafka.DialLeader(ctx, "tcp", n.kafkaAddr, "kafkago-conn", 0)
	if err != nil {
		t.Fatalf("dial leader of the new topic: %v", err)
	}
	defer again.Close()
	if first, last, err := again.ReadOffsets(); err != nil || first != 0 || last != 0 {
		t.Fatalf("offsets of the new topic: %d to %d, %v", first, last, err)
	}
}

// TestKafkaGoAutoTopicCreation: a writer with AllowAutoTopicCreation writes to a topic
// that does not exist; the broker creates it (num.partitions) and the messages are there.
func TestKafkaGoAutoTopicCreation(t *testing.T) {
	n := startNode(t, "num.partitions = 2")
	const topic = "kafkago-auto"
	w, written := kafkaGoWriter(t, n, topic, kafka.RequireAll, kafka.Lz4)
	w.AllowAutoTopicCreation = true
	var msgs []kafka.Message
	for i := 0; i < 50; i++ {
		msgs = append(msgs, kafkaGoMessage(i, time.Time{}))
	}
	if err := w.WriteMessages(testContext(t), msgs...); err != nil {
		t.Fatalf("write to a new topic: %v", err)
	}
	if names := n.topicNames(testContext(t)); !slices.Equal(names, []string{topic}) {
		t.Fatalf("topics %v, want the auto-created %s", names, topic)
	}
	sent := byPartition(written())
	if len(sent) != 2 || len(sent[0])+len(sent[1]) != len(msgs) {
		t.Fatalf("written to partitions %v", sent)
	}
	for p, want := range sent {
		got := readKafkaGoPartition(t, n, topic, p, len(want))
		for i := range want {
			if diff := sameKafkaGoMessage(got[i], want[i]); diff != "" {
				t.Fatalf("partition %d: %s", p, diff)
			}
		}
	}
}
