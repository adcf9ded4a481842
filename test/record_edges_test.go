package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// edgeRecords are the records whose null and empty parts clients tell apart: a null key
// and value, empty ones, a tombstone (a key, null value), headers with a null value, an
// empty value and an empty key, and many headers.
func edgeRecords() []*kgo.Record {
	many := make([]kgo.RecordHeader, 300)
	for i := range many {
		many[i] = kgo.RecordHeader{Key: fmt.Sprint("h", i), Value: fmt.Append(nil, i)}
	}
	return []*kgo.Record{
		{Key: nil, Value: nil},
		{Key: []byte{}, Value: []byte{}},
		{Key: []byte("k"), Value: nil},
		{Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "null", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "", Value: []byte("x")}}},
		{Value: []byte("many"), Headers: many},
	}
}

// sameBytes is bytes.Equal that also tells null from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// Null stays null and empty stays empty, in keys, values and header values, through the
// broker's validation of every record (compressed batches decompressed): produced by kgo
// with each codec and by Sarama at Kafka 0.11 and 3.6, read back by kgo, Sarama and kcat.
func TestRecordEdgesRoundTripEveryClient(t *testing.T) {
	n := startNode(t, "")
	const topic = "record-edges"
	createTopic(t, n, topic, 1, nil)
	var want []*kgo.Record
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		cl := n.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec))
		recs := edgeRecords()
		produceAll(t, cl, recs) // one batch per codec
		want = append(want, recs...)
	}
	for _, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.V3_6_0_0} {
		cfg := saramaConfig()
		cfg.Version = v
		cfg.Producer.Return.Successes = true
		cfg.Producer.Compression = sarama.CompressionGZIP
		prod, err := sarama.NewSyncProducer([]string{n.kafkaAddr}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range edgeRecords() {
			m := &sarama.ProducerMessage{Topic: topic}
			if r.Key != nil {
				m.Key = sarama.ByteEncoder(r.Key)
			}
			if r.Value != nil {
				m.Value = sarama.ByteEncoder(r.Value)
			}
			for _, h := range r.Headers {
				m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			if _, _, err := prod.SendMessage(m); err != nil {
				t.Fatalf("Sarama %v: %v", v, err)
			}
			want = append(want, r)
		}
		prod.Close()
	}
	check := func(client string, i int, key, value []byte, headers []kgo.RecordHeader) {
		t.Helper()
		w := want[i]
		if !sameBytes(key, w.Key) || !sameBytes(value, w.Value) {
			t.Fatalf("%s, offset %d: key %q (null %v) value %q (null %v), want %q (null %v) and %q (null %v)",
				client, i, key, key == nil, value, value == nil, w.Key, w.Key == nil, w.Value, w.Value == nil)
		}
		if len(headers) != len(w.Headers) {
			t.Fatalf("%s, offset %d: %d headers, want %d", client, i, len(headers), len(w.Headers))
		}
		for j, h := range w.Headers {
			if headers[j].Key != h.Key || !sameBytes(headers[j].Value, h.Value) {
				t.Fatalf("%s, offset %d: header %d is %q=%q (null %v), want %q=%q (null %v)",
					client, i, j, headers[j].Key, headers[j].Value, headers[j].Value == nil, h.Key, h.Value, h.Value == nil)
			}
		}
	}

	for i, r := range readPartition(t, n, topic, 0, 0, int64(len(want))) {
		check("kgo", i, r.Key, r.Value, r.Headers)
	}

	cfg := saramaConfig()
	cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
	pc := saramaPartition(t, n, cfg, topic, 0)
	for i := range want {
		select {
		case m := <-pc.Messages():
			var headers []kgo.RecordHeader
			for _, h := range m.Headers {
				headers = append(headers, kgo.RecordHeader{Key: string(h.Key), Value: h.Value})
			}
			check("Sarama", i, m.Key, m.Value, headers)
		case err := <-pc.Errors():
			t.Fatalf("Sarama consumer: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("Sarama consumer: %d of %d records in 30s", i, len(want))
		}
	}

	kcat, err := exec.LookPath("kcat")
	if err != nil {
		return // the Go clients have checked everything; kcat is optional
	}
	out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-J").Output()
	if err != nil {
		t.Fatalf("kcat -J: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("kcat read %d records, want %d", len(lines), len(want))
	}
	for i, line := range lines {
		// -J prints a null key, payload or header value as null and an empty one as "".
		var m struct {
			Key, Payload *string
			Headers      []*string
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("kcat line %q: %v", line, err)
		}
		var headers []kgo.RecordHeader
		for j := 0; j+1 < len(m.Headers); j += 2 {
			headers = append(headers, kgo.RecordHeader{Key: *m.Headers[j], Value: nullableBytes(m.Headers[j+1])})
		}
		check("kcat", i, nullableBytes(m.Key), nullableBytes(m.Payload), headers)
	}
}

func nullableBytes(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// A record batch of exactly the topic's max.message.bytes is taken and one byte more is
// MESSAGE_TOO_LARGE, as in Kafka (the limit applies to the whole batch, its 61-byte
// header included), for librdkafka's plain and idempotent producers.
func TestKcatBatchAtMaxMessageBytes(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	n := startNode(t, "")
	createTopic(t, n, "at-max", 1, map[string]string{"max.message.bytes": "10000"})
	// librdkafka's batch of one keyless, headerless record of 9928 bytes is 10000 bytes:
	// 61 of header, 3 of record length, 8 of record fields.
	const fits = 9928
	offset := int64(0)
	for _, idempotent := range []string{"false", "true"} {
		for _, size := range []int{fits, fits + 1} {
			cmd := exec.Command(kcat, "-b", n.kafkaAddr, "-t", "at-max", "-P", "-X", "message.max.bytes=20000", "-X", "enable.idempotence="+idempotent)
			cmd.Stdin = strings.NewReader(strings.Repeat("v", size) + "\n")
			out, err := cmd.CombinedOutput()
			refused := strings.Contains(string(out), "Message size too large")
			if size == fits && err != nil {
				t.Fatalf("a %d-byte batch (idempotent %s) on a topic taking 10000: %v\n%s", size+72, idempotent, err, out)
			}
			if size > fits && (err == nil || !refused) {
				t.Fatalf("a %d-byte batch (idempotent %s) on a topic taking 10000: %v\n%s; want MESSAGE_TOO_LARGE", size+72, idempotent, err, out)
			}
			if size == fits {
				offset++
			}
		}
	}
	out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-t", "at-max", "-C", "-o", "beginning", "-e", "-q", "-f", "%o %S\n", "-X", "check.crcs=true").Output()
	if got := strings.Fields(string(out)); err != nil || strings.Join(got, ",") != fmt.Sprintf("0,%d,1,%d", fits, fits) {
		t.Fatalf("kcat read back %q (%v), want the two %d-byte records at offsets 0 and 1", out, err, fits)
	}
	if end := offsetOf(t, n.rawClient(), "at-max", 0, -1); end != offset {
		t.Fatalf("log end %d, want %d: a refused batch was written", end, offset)
	}
}
