package test

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// A topic whose compression.type names a codec stores every batch in it, whatever the
// producer sent, as Kafka does; consumers get the records back intact. "uncompressed"
// stores batches uncompressed, "producer" (the default) as sent, and a change of the
// config applies to the batches that follow it.
func TestCompressionTypeRecompressesBatches(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	produce := func(topic string, codec kgo.CompressionCodec, from, count int) {
		t.Helper()
		cl := n.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(5*time.Millisecond))
		var recs []*kgo.Record
		for i := from; i < from+count; i++ {
			recs = append(recs, &kgo.Record{
				Key:     []byte(fmt.Sprintf("key-%d", i)),
				Value:   bytes.Repeat([]byte(fmt.Sprintf("value %d ", i)), 20),
				Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}},
			})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
		cl.Close()
	}
	// storedCodecs returns the codec of every batch in partition 0, in order.
	storedCodecs := func(topic string) []int8 {
		t.Helper()
		var codecs []int8
		for off := int64(0); ; {
			p := fetchRaw(t, n.rawClient(), topic, 0, off)
			batches, err := batch.Split(p.RecordBatches)
			if p.ErrorCode != 0 || err != nil {
				t.Fatalf("fetch %s at %d: error %d, %v", topic, off, p.ErrorCode, err)
			}
			if len(batches) == 0 {
				return codecs
			}
			for _, b := range batches {
				h, err := batch.Validate(b)
				if err != nil {
					t.Fatalf("stored batch of %s at %d: %v", topic, off, err)
				}
				codecs = append(codecs, h.Compression())
				off = h.LastOffset() + 1
			}
		}
	}
	checkRecords := func(topic string, count int) {
		t.Helper()
		recs := readPartition(t, n, topic, 0, 0, int64(count))
		checkContiguous(t, topic, recs, 0)
		for i, r := range recs {
			if string(r.Key) != fmt.Sprintf("key-%d", i) || !bytes.Equal(r.Value, bytes.Repeat([]byte(fmt.Sprintf("value %d ", i)), 20)) ||
				len(r.Headers) != 1 || string(r.Headers[0].Value) != fmt.Sprint(i) {
				t.Fatalf("%s offset %d: key %q, %d value bytes, headers %v", topic, i, r.Key, len(r.Value), r.Headers)
			}
		}
	}
	allOf := func(codecs []int8, want int8) bool {
		for _, c := range codecs {
			if c != want {
				return false
			}
		}
		return len(codecs) > 0
	}

	for _, c := range []struct {
		config string
		want   int8
	}{{"lz4", batch.CodecLZ4}, {"zstd", batch.CodecZstd}, {"gzip", batch.CodecGzip}, {"snappy", batch.CodecSnappy}, {"uncompressed", batch.CodecNone}} {
		topic := "ct-" + c.config
		createTopic(t, n, topic, 1, map[string]string{"compression.type": c.config})
		// Uncompressed batches, batches of another codec and a single-record batch are
		// all rewritten.
		produce(topic, kgo.NoCompression(), 0, 300)
		produce(topic, kgo.GzipCompression(), 300, 300)
		produce(topic, kgo.ZstdCompression(), 600, 1)
		if got := storedCodecs(topic); !allOf(got, c.want) {
			t.Errorf("compression.type=%s: stored codecs %v, want all %d", c.config, got, c.want)
		}
		checkRecords(topic, 601)
		// The broker's own compression must be readable by every client, not only kgo.
		if keys := saramaKeys(t, n, topic, 601); !sequentialKeys(keys) {
			t.Errorf("compression.type=%s: Sarama read keys %v", c.config, keys)
		}
		if kcat, err := exec.LookPath("kcat"); err == nil {
			out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", "%k\n").CombinedOutput()
			if keys := strings.Fields(string(out)); err != nil || len(keys) != 601 || !sequentialKeys(keys) {
				t.Errorf("compression.type=%s: kcat read %d keys (%v)\n%.300s", c.config, len(keys), err, out)
			}
		}
	}

	// The default keeps what the producer sent; a change applies from the next batch.
	createTopic(t, n, "ct-producer", 1, nil)
	produce("ct-producer", kgo.GzipCompression(), 0, 300)
	before := storedCodecs("ct-producer")
	if !allOf(before, batch.CodecGzip) {
		t.Fatalf("compression.type=producer: stored codecs %v, want the producer's gzip", before)
	}
	alter := kadm.AlterConfig{Op: kadm.SetConfig, Name: "compression.type", Value: kadm.StringPtr("zstd")}
	if res, err := n.admin().AlterTopicConfigs(ctx, []kadm.AlterConfig{alter}, "ct-producer"); err != nil || res[0].Err != nil {
		t.Fatalf("alter compression.type: %v %+v", err, res)
	}
	// The partition takes the change once it applies the new config: produce until a
	// batch lands in zstd, then every later one must too.
	total := 300
	eventually(t, 10*time.Second, "a batch stored with zstd after the change", func() bool {
		produce("ct-producer", kgo.GzipCompression(), total, 50)
		total += 50
		got := storedCodecs("ct-producer")
		return got[len(got)-1] == batch.CodecZstd
	})
	produce("ct-producer", kgo.GzipCompression(), total, 50)
	total += 50
	got := storedCodecs("ct-producer")
	switched := false
	for i, c := range got {
		switch {
		case c == batch.CodecZstd:
			switched = true
		case switched || c != batch.CodecGzip:
			t.Fatalf("compression.type producer then zstd: batch %d stored with codec %d (all: %v)", i, c, got)
		}
	}
	checkRecords("ct-producer", total)

	// max.message.bytes applies to the batch as stored, as in Kafka: a gzip batch within
	// it that decompresses past it is refused on an uncompressed topic.
	createTopic(t, n, "ct-limit", 1, map[string]string{"compression.type": "uncompressed", "max.message.bytes": "4000"})
	opts := batchtest.DefaultOptions(time.Now().UnixMilli())
	opts.Codec = batch.CodecGzip
	big := batchtest.Build(opts, batchtest.Values(40, 200))
	if len(big) > 4000 {
		t.Fatalf("the gzip batch is %d bytes; the case needs it under the limit", len(big))
	}
	if r := produceRaw(t, n.rawClient(), "ct-limit", 0, big); r.ErrorCode != kerr.MessageTooLarge.Code {
		t.Errorf("gzip batch of %d bytes, %d uncompressed, on a 4000-byte uncompressed topic: error %d, want MESSAGE_TOO_LARGE", len(big), 40*200, r.ErrorCode)
	}
}

// compression.gzip.level, compression.lz4.level and compression.zstd.level (KIP-390) set
// how hard the broker compresses when it rewrites a batch: the same records stored at a
// high level take fewer bytes than at a low one. For lz4 Kafka's default, 9, is the fast
// compressor and 17 the deepest high-compression level.
func TestCompressionLevelsApply(t *testing.T) {
	n := startNode(t, "")
	// Text-like records: compressible, but not so trivially that every level ties.
	recs := make([]batchtest.Record, 400)
	words := strings.Fields("the broker stores batches as producers compress them unless a topic asks for a codec of its own")
	for i := range recs {
		var v []byte
		for j := 0; j < 30; j++ {
			v = append(v, words[(i*7+j*j)%len(words)]...)
			v = append(v, ' ')
		}
		recs[i] = batchtest.Record{Value: v, TimestampDelta: int64(i)}
	}
	raw := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), recs)
	stored := func(topic string, cfg map[string]string) int {
		t.Helper()
		createTopic(t, n, topic, 1, cfg)
		if r := produceRaw(t, n.rawClient(), topic, 0, append([]byte(nil), raw...)); r.ErrorCode != 0 {
			t.Fatalf("produce to %s: error %d", topic, r.ErrorCode)
		}
		p := fetchRaw(t, n.rawClient(), topic, 0, 0)
		h, err := batch.Validate(p.RecordBatches)
		if err != nil || p.ErrorCode != 0 {
			t.Fatalf("stored batch of %s: error %d, %v", topic, p.ErrorCode, err)
		}
		return h.Size()
	}
	gzip1 := stored("gzip-1", map[string]string{"compression.type": "gzip", "compression.gzip.level": "1"})
	gzip9 := stored("gzip-9", map[string]string{"compression.type": "gzip", "compression.gzip.level": "9"})
	lz4Default := stored("lz4-9", map[string]string{"compression.type": "lz4"})
	lz417 := stored("lz4-17", map[string]string{"compression.type": "lz4", "compression.lz4.level": "17"})
	zstd1 := stored("zstd-1", map[string]string{"compression.type": "zstd", "compression.zstd.level": "1"})
	zstd19 := stored("zstd-19", map[string]string{"compression.type": "zstd", "compression.zstd.level": "19"})
	if gzip9 >= gzip1 || lz417 >= lz4Default || zstd19 >= zstd1 {
		t.Errorf("stored sizes of %d bytes of records: gzip level 1 %d, level 9 %d; lz4 default %d, level 17 %d; zstd level 1 %d, level 19 %d; want the higher level smaller",
			len(raw), gzip1, gzip9, lz4Default, lz417, zstd1, zstd19)
	}
	t.Logf("%d bytes of records stored as: gzip level 1 %d, level 9 %d; lz4 default %d, level 17 %d; zstd level 1 %d, level 19 %d",
		len(raw), gzip1, gzip9, lz4Default, lz417, zstd1, zstd19)
}

// sequentialKeys reports whether keys are key-0, key-1, ... in order.
func sequentialKeys(keys []string) bool {
	for i, k := range keys {
		if k != fmt.Sprintf("key-%d", i) {
			return false
		}
	}
	return len(keys) > 0
}

// saramaKeys reads count records of partition 0 from the start with Sarama's consumer and
// returns their keys.
func saramaKeys(t *testing.T, n *node, topic string, count int) []string {
	t.Helper()
	pc := saramaPartition(t, n, saramaConfig(), topic, 0)
	var keys []string
	deadline := time.After(30 * time.Second)
	for len(keys) < count {
		select {
		case m := <-pc.Messages():
			keys = append(keys, string(m.Key))
		case err := <-pc.Errors():
			t.Fatalf("Sarama consuming %s: %v", topic, err)
		case <-deadline:
			t.Fatalf("Sarama read %d of %d records of %s", len(keys), count, topic)
		}
	}
	return keys
}
