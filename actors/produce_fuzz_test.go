package actors

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// FuzzProduceCompressed produces batches whose records section is arbitrary bytes, compressed
// with any codec and then possibly damaged, to a topic storing batches as sent, one whose
// compression.type rewrites them, and a compacted one. Every produce is answered with
// success or one of the refusals Kafka gives bad batches, never a panic, and the partition
// goes on taking a valid batch after each: a produce that kept a decompression slot would
// stall every later compressed produce of the node. Seeds live in
// testdata/fuzz/FuzzProduceCompressed.
func FuzzProduceCompressed(f *testing.F) {
	valid := batchtest.Build(batchtest.DefaultOptions(0), batchtest.Values(3, 20))[batch.HeaderSize:]
	keyed := batchtest.Build(batchtest.DefaultOptions(0), []batchtest.Record{{Key: []byte("k"), Value: []byte("v")}})[batch.HeaderSize:]
	for codec := range uint8(5) {
		f.Add(valid, codec, uint8(3), uint16(0), uint8(codec%3))
		f.Add(keyed, codec, uint8(1), uint16(0), uint8(2))
		f.Add(valid, codec, uint8(3), uint16(0x5507), uint8(1))
	}
	f.Add([]byte{}, uint8(1), uint8(1), uint16(0), uint8(0))
	n := startTestNode(f, f.TempDir(), "memory", 1000)
	f.Cleanup(func() { n.stop(f) })
	topics := []map[string]string{{}, {"compression.type": "lz4"}, {"cleanup.policy": "compact"}}
	for i, cfg := range topics {
		res, err := n.Propose(context.Background(), fsm.Command{CreateTopic: &fsm.CreateTopic{
			Name: string(rune('a' + i)), ID: metastore.NewUUID(), Replicas: [][]int32{{1}}, Configs: cfg}})
		if err != nil || !res[0].OK() {
			f.Fatalf("create topic %d: %v %+v", i, err, res)
		}
	}
	refusals := map[int16]bool{0: true, kerr.InvalidRecord.Code: true, kerr.CorruptMessage.Code: true,
		kerr.MessageTooLarge.Code: true, kerr.InvalidTimestamp.Code: true}
	f.Fuzz(func(t *testing.T, recs []byte, codec, numRecords uint8, damage uint16, topic uint8) {
		c := int8(codec % 5)
		body, err := batchtest.Compress(c, recs)
		if err != nil {
			t.Fatal(err)
		}
		if damage != 0 && len(body) > 0 {
			body[int(damage)%len(body)] ^= byte(damage>>8) | 1
		}
		opts := batchtest.DefaultOptions(time.Now().UnixMilli())
		opts.Codec = c
		b := batchtest.Build(opts, make([]batchtest.Record, max(1, int(numRecords))))
		b = append(b[:batch.HeaderSize:batch.HeaderSize], body...)
		binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
		binary.BigEndian.PutUint32(b[17:], batch.Checksum(b))
		tp := TopicPartition{Topic: string(rune('a' + int(topic)%len(topics))), Partition: 0}
		if r := produceOne(t, n.Node, tp, b); !refusals[r.Code] {
			t.Fatalf("produce of a fuzzed %d-codec batch: code %d (%s)", c, r.Code, r.Message)
		}
		good := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), []batchtest.Record{{Key: []byte("k"), Value: []byte("v")}})
		if r := produceOne(t, n.Node, tp, good); r.Code != 0 {
			t.Fatalf("a valid batch after the fuzzed one: code %d (%s)", r.Code, r.Message)
		}
	})
}
