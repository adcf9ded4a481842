package test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSaramaProduceConsume: Sarama's idempotent SyncProducer (one message at a time and
// in batches, compressed) and its partition consumers round-trip every message, in
// order, at the offsets the producer was given.
func TestSaramaProduceConsume(t *testing.T) {
	n := startNode(t, "")
	const topic, partitions = "sarama-data", 4
	createTopic(t, n, topic, partitions, nil)

	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1 // Sarama's requirement for idempotence
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Compression = sarama.CompressionZSTD
	prod, err := sarama.NewSyncProducer([]string{n.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	message := func(i int) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{
			Topic:   topic,
			Key:     sarama.StringEncoder(fmt.Sprintf("key-%d", i%13)),
			Value:   sarama.StringEncoder(fmt.Sprintf("sarama-%d", i)),
			Headers: []sarama.RecordHeader{{Key: []byte("i"), Value: []byte(fmt.Sprint(i))}},
		}
	}
	var sent []*sarama.ProducerMessage
	for i := 0; i < 300; i++ {
		m := message(i)
		if _, _, err := prod.SendMessage(m); err != nil {
			t.Fatalf("SendMessage %d: %v", i, err)
		}
		sent = append(sent, m)
	}
	// Sent one after another, so each partition's offsets follow the order of sending.
	last := map[int32]int64{}
	for _, m := range sent {
		if prev, ok := last[m.Partition]; (ok && m.Offset != prev+1) || (!ok && m.Offset != 0) {
			t.Fatalf("message %v at %d/%d after offset %d", m.Value, m.Partition, m.Offset, prev)
		}
		last[m.Partition] = m.Offset
	}
	var batchMsgs []*sarama.ProducerMessage
	for i := 300; i < 2300; i++ {
		batchMsgs = append(batchMsgs, message(i))
	}
	if err := prod.SendMessages(batchMsgs); err != nil {
		t.Fatalf("SendMessages: %v", err)
	}
	sent = append(sent, batchMsgs...)

	byPartition := map[int32][]*sarama.ProducerMessage{}
	for _, m := range sent {
		byPartition[m.Partition] = append(byPartition[m.Partition], m)
	}
	if len(byPartition) != partitions {
		t.Fatalf("keys spread over %d partitions", len(byPartition))
	}

	consumerCfg := saramaConfig()
	consumerCfg.Consumer.MaxWaitTime = 50 * time.Millisecond // Close waits out a parked fetch
	client, err := sarama.NewClient([]string{n.kafkaAddr}, consumerCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for p, want := range byPartition {
		slices.SortFunc(want, func(a, b *sarama.ProducerMessage) int { return cmp.Compare(a.Offset, b.Offset) })
		if oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest); err != nil || oldest != 0 {
			t.Fatalf("partition %d oldest offset %d, %v", p, oldest, err)
		}
		if newest, err := client.GetOffset(topic, p, sarama.OffsetNewest); err != nil || newest != int64(len(want)) {
			t.Fatalf("partition %d newest offset %d (%v), sent %d", p, newest, err, len(want))
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			select {
			case m := <-pc.Messages():
				if m.Offset != int64(i) || w.Offset != m.Offset {
					t.Fatalf("partition %d: message %d at offset %d, sent to %d", p, i, m.Offset, w.Offset)
				}
				key, _ := w.Key.Encode()
				value, _ := w.Value.Encode()
				if string(m.Key) != string(key) || string(m.Value) != string(value) ||
					len(m.Headers) != 1 || string(m.Headers[0].Value) != string(w.Headers[0].Value) {
					t.Fatalf("partition %d offset %d: got %q=%q %v, sent %q=%q", p, m.Offset, m.Key, m.Value, m.Headers, key, value)
				}
			case err := <-pc.Errors():
				t.Fatalf("consume partition %d: %v", p, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("partition %d: %d of %d messages consumed", p, i, len(want))
			}
		}
		if hw := pc.HighWaterMarkOffset(); hw != int64(len(want)) {
			t.Fatalf("partition %d high watermark %d", p, hw)
		}
		pc.Close()
	}
}

// TestSaramaOldProtocolVersions: a Sarama configured for an old Kafka either works or
// gets a Kafka error it can name, never a decoding failure or silence. 0.10.2 speaks
// Produce v2 (message format v1, refused with UNSUPPORTED_FOR_MESSAGE_FORMAT) and Fetch
// v3 (older than this broker serves: UNSUPPORTED_VERSION, in a response Sarama can read);
// 0.11 (record batches) and the default round-trip.
func TestSaramaOldProtocolVersions(t *testing.T) {
	n := startNode(t, "")
	const topic = "sarama-old"
	createTopic(t, n, topic, 1, nil)
	config := func(v sarama.KafkaVersion) *sarama.Config {
		cfg := saramaConfig()
		cfg.Version = v
		cfg.Producer.Return.Successes = true
		cfg.Producer.Retry.Max = 1
		cfg.Consumer.Return.Errors = true
		cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
		return cfg
	}
	produce := func(v sarama.KafkaVersion, value string) (int64, error) {
		prod, err := sarama.NewSyncProducer([]string{n.kafkaAddr}, config(v))
		if err != nil {
			t.Fatalf("Sarama %v producer: %v", v, err)
		}
		defer prod.Close()
		_, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(value)})
		return off, err
	}
	// consumeFirst reads the partition's first message, or the error the consumer reports.
	consumeFirst := func(v sarama.KafkaVersion) (*sarama.ConsumerMessage, error) {
		c, err := sarama.NewConsumer([]string{n.kafkaAddr}, config(v))
		if err != nil {
			t.Fatalf("Sarama %v consumer: %v", v, err)
		}
		defer c.Close()
		pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		defer pc.Close()
		select {
		case m := <-pc.Messages():
			return m, nil
		case err := <-pc.Errors():
			return nil, err.Err
		case <-time.After(30 * time.Second):
			t.Fatalf("Sarama %v consumer: neither a message nor an error after 30s", v)
			return nil, nil
		}
	}

	for i, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.DefaultVersion} {
		if off, err := produce(v, "v-"+v.String()); err != nil || off != int64(i) {
			t.Fatalf("Sarama %v produce: offset %d, %v", v, off, err)
		}
		if m, err := consumeFirst(v); err != nil || string(m.Value) != "v-0.11.0.0" {
			t.Fatalf("Sarama %v consume: %v %v", v, m, err)
		}
	}
	if _, err := produce(sarama.V0_10_2_0, "refused"); !errors.Is(err, sarama.ErrUnsupportedForMessageFormat) {
		t.Fatalf("Sarama 0.10.2 produce: %v, want UNSUPPORTED_FOR_MESSAGE_FORMAT", err)
	}
	if _, err := consumeFirst(sarama.V0_10_2_0); !errors.Is(err, sarama.ErrUnsupportedVersion) {
		t.Fatalf("Sarama 0.10.2 consume: %v, want UNSUPPORTED_VERSION", err)
	}
	// The refusals left the broker serving, and nothing was written by them.
	if m, err := consumeFirst(sarama.DefaultVersion); err != nil || m.Offset != 0 {
		t.Fatalf("consume after the refusals: %v %v", m, err)
	}
	if off, err := produce(sarama.DefaultVersion, "after"); err != nil || off != 2 {
		t.Fatalf("produce after the refusals: offset %d, %v", off, err)
	}
}

// TestSaramaTooLargeAndOffsetsByTime: Sarama's idempotent sync producer (Kafka 2.8
// protocol, LZ4) gets MESSAGE_TOO_LARGE for a batch over the topic's max.message.bytes and
// goes on producing at the next offset (the refused batch took no sequence numbers), and
// Client.GetOffset with a timestamp finds the first record stamped at or after it.
func TestSaramaTooLargeAndOffsetsByTime(t *testing.T) {
	n := startNode(t, "")
	const topic = "sarama-times"
	createTopic(t, n, topic, 1, map[string]string{"max.message.bytes": "2000"})
	cfg := saramaConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionLZ4
	prod, err := sarama.NewSyncProducer([]string{n.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	now := time.Now().Truncate(time.Millisecond)
	send := func(value []byte, at time.Time) (int64, error) {
		_, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(value), Timestamp: at})
		return off, err
	}
	for i, ago := range []time.Duration{time.Minute, 30 * time.Second} {
		if off, err := send([]byte("small"), now.Add(-ago)); err != nil || off != int64(i) {
			t.Fatalf("send %d: offset %d, %v", i, off, err)
		}
	}
	noise := make([]byte, 5000) // LZ4 cannot shrink it under max.message.bytes
	rand.NewChaCha8([32]byte{1}).Read(noise)
	if _, err := send(noise, now); !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		t.Fatalf("a 5000-byte batch on a topic taking 2000: %v, want MESSAGE_TOO_LARGE", err)
	}
	if off, err := send([]byte("after"), now); err != nil || off != 2 {
		t.Fatalf("send after the refusal: offset %d, %v; want 2", off, err)
	}

	client, err := sarama.NewClient([]string{n.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, c := range []struct {
		at   time.Time
		want int64
	}{
		{now.Add(-time.Hour), 0},
		{now.Add(-time.Minute), 0},
		{now.Add(-45 * time.Second), 1},
		{now.Add(-time.Second), 2},
		{now, 2},
		{now.Add(time.Millisecond), -1}, // nothing that late: Kafka answers -1
	} {
		if off, err := client.GetOffset(topic, 0, c.at.UnixMilli()); err != nil || off != c.want {
			t.Errorf("GetOffset at %v: %d, %v; want %d", now.Sub(c.at), off, err, c.want)
		}
	}
}

// Sarama pinned to each Kafka version from 0.11 to 2.1 (Produce v3-v7, Fetch v5-v10,
// ListOffsets v2-v4) produces with every codec its version allows (zstd from 2.1), finds
// offsets by time, and reads everything back exactly: keys, values, headers, timestamps.
func TestSaramaVersionsEveryCodec(t *testing.T) {
	n := startNode(t, "")
	codecs := []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD}
	for _, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.V1_0_0_0, sarama.V1_1_0_0, sarama.V2_0_0_0, sarama.V2_1_0_0} {
		topic := "sarama-" + v.String()
		createTopic(t, n, topic, 1, nil)
		cfg := saramaConfig()
		cfg.Version = v
		cfg.Producer.Return.Successes = true
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		cfg.Consumer.Return.Errors = true
		cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		var sent []*sarama.ProducerMessage
		for _, codec := range codecs {
			if codec == sarama.CompressionZSTD && !v.IsAtLeast(sarama.V2_1_0_0) {
				continue
			}
			cfg.Producer.Compression = codec
			prod, err := sarama.NewSyncProducer([]string{n.kafkaAddr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var msgs []*sarama.ProducerMessage
			for i := range 4 {
				at := len(sent) + i
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic,
					Key:       sarama.StringEncoder(fmt.Sprintf("k%d", at)),
					Value:     sarama.StringEncoder(fmt.Sprintf("%s-%d", codec, at)),
					Headers:   []sarama.RecordHeader{{Key: []byte("at"), Value: fmt.Append(nil, at)}},
					Timestamp: base.Add(time.Duration(at) * time.Second)})
			}
			if err := prod.SendMessages(msgs); err != nil {
				t.Fatalf("Sarama %v, %v: %v", v, codec, err)
			}
			prod.Close()
			sent = append(sent, msgs...)
		}
		slices.SortFunc(sent, func(a, b *sarama.ProducerMessage) int { return cmp.Compare(a.Offset, b.Offset) })

		client, err := sarama.NewClient([]string{n.kafkaAddr}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		consumer, err := sarama.NewConsumerFromClient(client)
		if err != nil {
			t.Fatal(err)
		}
		from := len(sent) / 2
		at, err := client.GetOffset(topic, 0, sent[from].Timestamp.UnixMilli())
		if err != nil || at != sent[from].Offset {
			t.Fatalf("Sarama %v: offset at %v is %d (%v), want %d", v, sent[from].Timestamp, at, err, sent[from].Offset)
		}
		for _, start := range []int64{sarama.OffsetOldest, at} {
			pc, err := consumer.ConsumePartition(topic, 0, start)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			if start == at {
				i = from
			}
			for ; i < len(sent); i++ {
				w := sent[i]
				select {
				case m := <-pc.Messages():
					key, _ := w.Key.Encode()
					value, _ := w.Value.Encode()
					if m.Offset != w.Offset || string(m.Key) != string(key) || string(m.Value) != string(value) ||
						!m.Timestamp.Equal(w.Timestamp) || len(m.Headers) != 1 || string(m.Headers[0].Value) != string(w.Headers[0].Value) {
						t.Fatalf("Sarama %v from %d: got %q=%q at %d (%v, %d headers), sent %q=%q at %d (%v)",
							v, start, m.Key, m.Value, m.Offset, m.Timestamp, len(m.Headers), key, value, w.Offset, w.Timestamp)
					}
				case err := <-pc.Errors():
					t.Fatalf("Sarama %v from %d: %v", v, start, err)
				case <-time.After(30 * time.Second):
					t.Fatalf("Sarama %v from %d: nothing at offset %d in 30s", v, start, w.Offset)
				}
			}
			pc.Close()
		}
		consumer.Close()
		client.Close()
	}
}
