package actors

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
	"github.com/chronik/chronik-node/wal"
	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

func TestParkedFetchesWakeOnDataAndExpire(t *testing.T) {
	n, tp := startWithTopic(t, "w")
	defer n.stop(t)

	// A long poll that expires unanswered must not stay parked. The deadline leaves the
	// test time to see them parked even on a loaded machine (at 20 ms a tick could prune
	// them all before the test looked).
	for i := 0; i < 50; i++ {
		n.Watch(tp, &WatchRequest{Offset: 0, Deadline: time.Now().Add(2 * time.Second), Notify: make(chan struct{}, 1)})
	}
	if !eventually(5*time.Second, func() bool { info, ok := n.PartitionInfo(tp); return ok && info.ParkedFetches > 0 }) {
		t.Fatal("watches were not parked")
	}
	if !eventually(5*time.Second, func() bool { info, _ := n.PartitionInfo(tp); return info.ParkedFetches == 0 }) {
		info, _ := n.PartitionInfo(tp)
		t.Fatalf("%d expired fetches still parked", info.ParkedFetches)
	}

	// A parked fetch wakes when data arrives.
	wake := make(chan struct{}, 1)
	n.Watch(tp, &WatchRequest{Offset: 0, Deadline: time.Now().Add(time.Minute), Notify: wake})
	reply := make(chan ProduceReply, 1)
	opts := batchtest.DefaultOptions(time.Now().UnixMilli())
	n.Produce(tp, &ProduceRequest{Records: batchtest.Build(opts, batchtest.Values(3, 10)), Acks: 1, Reply: reply})
	if r := <-reply; r.Code != 0 || r.BaseOffset != 0 {
		t.Fatalf("produce: %+v", r)
	}
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("parked fetch not woken by new data")
	}

	// Unknown partitions answer at once.
	fr := make(chan FetchReply, 1)
	n.Fetch(TopicPartition{Topic: "w", Partition: 9}, &FetchRequest{Reply: fr})
	if r := <-fr; r.Code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("fetch of a missing partition: code %d", r.Code)
	}
}

func produceOne(t *testing.T, n *Node, tp TopicPartition, records []byte) ProduceReply {
	t.Helper()
	reply := make(chan ProduceReply, 1)
	n.Produce(tp, &ProduceRequest{Records: records, Acks: -1, Reply: reply})
	select {
	case r := <-reply:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no produce reply")
		return ProduceReply{}
	}
}

// Idempotent producer state is rebuilt after a restart: a retried batch still gets its
// original offset and a gap is still refused.
func TestProducerStateSurvivesRestart(t *testing.T) {
	for _, snapshot := range []bool{true, false} {
		t.Run(map[bool]string{true: "clean stop with snapshot", false: "rebuilt from the log"}[snapshot], func(t *testing.T) {
			dir := t.TempDir()
			n := startTestNode(t, dir, "bbolt", 1000)
			if r := createTopic(t, n.Node, "idem", 1); !r.OK() {
				t.Fatal(r.Message)
			}
			tp := TopicPartition{Topic: "idem", Partition: 0}
			opts := batchtest.DefaultOptions(time.Now().UnixMilli())
			opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = 77, 0, 0
			first := batchtest.Build(opts, batchtest.Values(5, 10))
			opts.BaseSequence = 5
			second := batchtest.Build(opts, batchtest.Values(5, 10))
			for i, b := range [][]byte{first, second} {
				if r := produceOne(t, n.Node, tp, append([]byte(nil), b...)); r.Code != 0 || r.BaseOffset != int64(5*i) {
					t.Fatalf("batch %d: %+v", i, r)
				}
			}
			n.stop(t)
			if !snapshot {
				if err := os.Remove(filepath.Join(dir, "partitions", "idem-0", producerSnapshotFile)); err != nil {
					t.Fatal(err)
				}
			}
			n = startTestNode(t, dir, "bbolt", 1000)
			defer n.stop(t)
			if r := produceOne(t, n.Node, tp, append([]byte(nil), second...)); r.Code != 0 || r.BaseOffset != 5 {
				t.Fatalf("retried batch after restart: %+v, want the original offset 5", r)
			}
			opts.BaseSequence = 20
			if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(1, 10))); r.Code != kerr.OutOfOrderSequenceNumber.Code {
				t.Fatalf("sequence gap after restart: code %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", r.Code)
			}
			if info, _ := n.PartitionInfo(tp); info.LogEndOffset != 10 {
				t.Fatalf("log end %d, want 10: the duplicate was written again", info.LogEndOffset)
			}
		})
	}
}

// Timestamp lookups answer with the record, as Kafka does, not the batch holding it, also
// inside compressed batches.
func TestListOffsetsFindsTheRecordInsideABatch(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "memory", 1000)
	defer n.stop(t)
	for _, codec := range []int8{batch.CodecNone, batch.CodecGzip, batch.CodecZstd} {
		topic := fmt.Sprintf("ts-%d", codec)
		if r := createTopic(t, n.Node, topic, 1); !r.OK() {
			t.Fatal(r.Message)
		}
		tp := TopicPartition{Topic: topic, Partition: 0}
		opts := batchtest.DefaultOptions(1000)
		opts.Codec = codec
		recs := []batchtest.Record{{Value: []byte("a"), TimestampDelta: 0}, {Value: []byte("b"), TimestampDelta: 10},
			{Value: []byte("c"), TimestampDelta: 20}, {Value: []byte("d"), TimestampDelta: 5}}
		if r := produceOne(t, n.Node, tp, batchtest.Build(opts, recs)); r.Code != 0 {
			t.Fatalf("produce: %+v", r)
		}
		for _, c := range []struct{ ts, wantOffset, wantTs int64 }{
			{1008, 1, 1010}, {1000, 0, 1000}, {1020, 2, 1020}, {-3, 2, 1020}, {1021, -1, -1},
		} {
			reply := make(chan ListOffsetsReply, 1)
			n.ListOffsets(tp, &ListOffsetsRequest{Timestamp: c.ts, CurrentLeaderEpoch: -1, Reply: reply})
			r := <-reply
			if r.Code != 0 || r.Offset != c.wantOffset || r.Timestamp != c.wantTs {
				t.Errorf("codec %d, timestamp %d: offset %d at %d (code %d), want %d at %d", codec, c.ts, r.Offset, r.Timestamp, r.Code, c.wantOffset, c.wantTs)
			}
		}
	}
}

// A CreateTime batch whose header understates its newest record (kafkajs writes such
// headers) is stored with the max timestamp of its records, as Kafka stores it, so the
// lookups by time and by max timestamp find that record. Compressed batches are read for
// it too.
func TestUnderstatedMaxTimestampIsCorrected(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "memory", 1000)
	defer n.stop(t)
	for _, codec := range []int8{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		topic := fmt.Sprintf("understated-%d", codec)
		if r := createTopic(t, n.Node, topic, 1); !r.OK() {
			t.Fatal(r.Message)
		}
		tp := TopicPartition{Topic: topic, Partition: 0}
		opts := batchtest.DefaultOptions(1000)
		opts.MaxTimestamp, opts.Codec = 1000, codec
		recs := []batchtest.Record{{Value: []byte("a")}, {Value: []byte("b"), TimestampDelta: 50}, {Value: []byte("c"), TimestampDelta: 10}}
		if r := produceOne(t, n.Node, tp, batchtest.Build(opts, recs)); r.Code != 0 {
			t.Fatalf("codec %d: produce: %+v", codec, r)
		}
		for _, c := range []struct{ ts, wantOffset, wantTs int64 }{{1040, 1, 1050}, {-3, 1, 1050}, {1051, -1, -1}} {
			reply := make(chan ListOffsetsReply, 1)
			n.ListOffsets(tp, &ListOffsetsRequest{Timestamp: c.ts, CurrentLeaderEpoch: -1, Reply: reply})
			if r := <-reply; r.Code != 0 || r.Offset != c.wantOffset || r.Timestamp != c.wantTs {
				t.Errorf("codec %d, timestamp %d: offset %d at %d (code %d), want %d at %d", codec, c.ts, r.Offset, r.Timestamp, r.Code, c.wantOffset, c.wantTs)
			}
		}
	}
}

// A compressed batch is checked inside, as Kafka's broker checks it: records that do not
// decompress, or do not match the header's count, are refused with INVALID_RECORD (which
// producers do not retry: the CRC held, so resending cannot help), and a record stamped
// out of the topic's bounds with INVALID_TIMESTAMP even when the header's timestamps are
// within them. Before, such batches were stored, and consumers failed on them.
func TestCompressedBatchesAreCheckedInside(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "memory", 1000)
	defer n.stop(t)
	now := time.Now().UnixMilli()
	// resealed recomputes the CRC of a batch a case has altered, so only the inside is wrong.
	resealed := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[17:], batch.Checksum(b))
		return b
	}
	for _, codec := range []int8{batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		opts := batchtest.DefaultOptions(now)
		opts.Codec = codec
		for i, c := range []struct {
			name     string
			batch    []byte
			wantCode int16
		}{
			{"payload damaged", func() []byte {
				b := batchtest.Build(opts, batchtest.Values(50, 100))
				for i := batch.HeaderSize + 8; i < len(b)-8; i += 16 {
					b[i] ^= 0x5A
				}
				return resealed(b)
			}(), kerr.InvalidRecord.Code},
			{"more records declared than compressed", func() []byte {
				b := batchtest.Build(opts, batchtest.Values(2, 10))
				binary.BigEndian.PutUint32(b[23:], 2) // last offset delta
				binary.BigEndian.PutUint32(b[57:], 3) // record count
				return resealed(b)
			}(), kerr.InvalidRecord.Code},
			{"a record three hours ahead under an honest-looking header", func() []byte {
				o := opts
				o.MaxTimestamp = now
				return batchtest.Build(o, []batchtest.Record{{Value: []byte("a")}, {Value: []byte("b"), TimestampDelta: 3 * 3600 * 1000}})
			}(), kerr.InvalidTimestamp.Code},
		} {
			topic := fmt.Sprintf("inside-%d-%d", codec, i)
			if r := createTopic(t, n.Node, topic, 1); !r.OK() {
				t.Fatal(r.Message)
			}
			tp := TopicPartition{Topic: topic, Partition: 0}
			if r := produceOne(t, n.Node, tp, c.batch); r.Code != c.wantCode {
				t.Errorf("codec %d, %s: code %d (%s), want %d", codec, c.name, r.Code, r.Message, c.wantCode)
			}
			if info, _ := n.PartitionInfo(tp); info.LogEndOffset != 0 {
				t.Errorf("codec %d, %s: log end %d after the refusal, want 0", codec, c.name, info.LogEndOffset)
			}
			// The partition takes the producer's next, good batch.
			if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(3, 10))); r.Code != 0 || r.BaseOffset != 0 {
				t.Errorf("codec %d, %s: next batch: %+v, want offset 0", codec, c.name, r)
			}
		}
	}
}

// A client may not mark a batch LogAppendTime on a CreateTime topic: Kafka stores it as
// CreateTime, so consumers read each record's own time. Compressed batches lose the bit
// too, with a CRC that still checks.
func TestClientLogAppendTimeBitIsCleared(t *testing.T) {
	n, tp := startWithTopic(t, "ct")
	defer n.stop(t)
	for i, codec := range []int8{batch.CodecNone, batch.CodecGzip} {
		opts := batchtest.DefaultOptions(1000)
		opts.Codec, opts.LogAppendTime = codec, true
		if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(2, 4))); r.Code != 0 {
			t.Fatalf("codec %d: produce: %+v", codec, r)
		}
		reply := make(chan FetchReply, 1)
		n.Fetch(tp, &FetchRequest{Offset: int64(2 * i), MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, Reply: reply})
		r := <-reply
		first, err := batch.ParseHeader(r.Records)
		if err != nil || first.Size() > len(r.Records) {
			t.Fatalf("codec %d: fetched %d bytes: %v", codec, len(r.Records), err)
		}
		h, err := batch.CheckIntegrity(r.Records[:first.Size()])
		if err != nil || h.LogAppendTime() || h.MaxTimestamp != 1001 {
			t.Fatalf("codec %d: stored header %+v, %v; want CreateTime, max 1001, a valid CRC", codec, h, err)
		}
	}
}

func TestTimestampLookupSkipsDeletedRecords(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "memory", 1000)
	defer n.stop(t)
	createTopic(t, n.Node, "cut", 1)
	tp := TopicPartition{Topic: "cut", Partition: 0}
	produceOne(t, n.Node, tp, batchtest.Build(batchtest.DefaultOptions(1000), batchtest.Values(10, 5)))
	dr := make(chan DeleteRecordsReply, 1)
	n.DeleteRecords(tp, &DeleteRecordsRequest{Offset: 4, Reply: dr})
	if r := <-dr; r.Code != 0 || r.LowWatermark != 4 {
		t.Fatalf("delete records: %+v", r)
	}
	reply := make(chan ListOffsetsReply, 1)
	n.ListOffsets(tp, &ListOffsetsRequest{Timestamp: 0, CurrentLeaderEpoch: -1, Reply: reply})
	if r := <-reply; r.Offset != 4 {
		t.Fatalf("timestamp lookup below the log start answered offset %d, want 4", r.Offset)
	}
}

// After a failed fsync the partition takes no more writes until the broker restarts, as
// Kafka takes a failed log directory offline: the kernel may have marked what it could
// not write clean, so no later fsync, and no acknowledgement after it, could be trusted.
// Reads go on. A restart (recovery scans the log) lifts it. A flush that failed for
// another reason fences nothing.
func TestFailedFsyncFencesWritesUntilRestart(t *testing.T) {
	dir := t.TempDir()
	n := startTestNode(t, dir, "bbolt", 1000)
	if r := createTopic(t, n.Node, "fenced", 1); !r.OK() {
		t.Fatal(r.Message)
	}
	tp := TopicPartition{Topic: "fenced", Partition: 0}
	opts := batchtest.DefaultOptions(time.Now().UnixMilli())
	if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(2, 10))); r.Code != 0 {
		t.Fatalf("produce: %+v", r)
	}
	// What the partition's syncer reports when fdatasync fails; it reaches the actor
	// before the next produce (same sender, same mailbox).
	pid, code := n.partitionPID(tp)
	if code != 0 {
		t.Fatalf("partition actor: error %d", code)
	}
	// A file the flush could not open (the file table full) leaves the data's fate as it
	// was: no fence, the next produce is taken.
	n.root.Send(pid, &syncDone{upTo: 2, err: fmt.Errorf("%w: write index: %w", wal.ErrStorage, syscall.EMFILE)})
	if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(1, 10))); r.Code != 0 || r.BaseOffset != 2 {
		t.Fatalf("produce after a flush that could not open a file: %+v, want offset 2", r)
	}
	n.root.Send(pid, &syncDone{upTo: 3, err: fmt.Errorf("%w: %w: sync partition log: %w", wal.ErrStorage, wal.ErrFlushFailed, syscall.EIO)})
	r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(1, 10)))
	if r.Code != kerr.KafkaStorageError.Code || !strings.Contains(r.Message, "fsync") {
		t.Fatalf("produce after a failed fsync: code %d %q, want KAFKA_STORAGE_ERROR", r.Code, r.Message)
	}
	if info, _ := n.PartitionInfo(tp); !strings.Contains(info.WritesFenced, "input/output error") {
		t.Fatalf("the partition's status does not show the fence: %+v", info)
	}
	fr := make(chan FetchReply, 1)
	n.Fetch(tp, &FetchRequest{Offset: 0, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, Reply: fr})
	if f := <-fr; f.Code != 0 || len(f.Records) == 0 || f.HighWatermark != 3 {
		t.Fatalf("fetch after a failed fsync: code %d, %d bytes, high watermark %d", f.Code, len(f.Records), f.HighWatermark)
	}
	n.stop(t)

	n = startTestNode(t, dir, "bbolt", 1000)
	defer n.stop(t)
	if r := produceOne(t, n.Node, tp, batchtest.Build(opts, batchtest.Values(1, 10))); r.Code != 0 || r.BaseOffset != 3 {
		t.Fatalf("produce after a restart: %+v, want offset 3", r)
	}
}

// A read with no byte budget (a Fetch response already full) answers the partition's
// offsets and nothing else, and still tells an out-of-range offset, as Kafka does.
func TestFetchWithNoBudgetAnswersOffsetsOnly(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "bbolt", 1000)
	defer n.stop(t)
	createTopic(t, n.Node, "budget", 1)
	tp := TopicPartition{Topic: "budget", Partition: 0}
	produceOne(t, n.Node, tp, batchtest.Build(batchtest.DefaultOptions(1000), batchtest.Values(10, 5)))
	fr := make(chan FetchReply, 1)
	n.Fetch(tp, &FetchRequest{Offset: 3, MaxBytes: 0, CurrentLeaderEpoch: -1, Reply: fr})
	if f := <-fr; f.Code != 0 || len(f.Records) != 0 || f.HighWatermark != 10 || f.LogStartOffset != 0 {
		t.Fatalf("offsets-only read: code %d, %d bytes, high watermark %d, log start %d", f.Code, len(f.Records), f.HighWatermark, f.LogStartOffset)
	}
	n.Fetch(tp, &FetchRequest{Offset: 11, MaxBytes: 0, CurrentLeaderEpoch: -1, Reply: fr})
	if f := <-fr; f.Code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("offsets-only read past the log end: code %d, want OFFSET_OUT_OF_RANGE", f.Code)
	}
}

// Every pair of codecs, the producer's and the topic's compression.type: what is stored
// is a valid batch in the topic's codec (the producer's for "producer") holding the
// producer's records, with its header's offsets, producer fields and timestamps intact.
func TestRecompressionMatrix(t *testing.T) {
	n := startTestNode(t, t.TempDir(), "memory", 1000)
	defer n.stop(t)
	targets := map[string]int8{"producer": -1, "uncompressed": batch.CodecNone, "gzip": batch.CodecGzip,
		"snappy": batch.CodecSnappy, "lz4": batch.CodecLZ4, "zstd": batch.CodecZstd}
	recs := batchtest.Values(30, 40)
	recs[2].Key, recs[3].Value = []byte("key"), nil
	recs[4].Headers = []batchtest.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "null"}}
	for config, target := range targets {
		topic := "matrix-" + config
		res, err := n.Propose(context.Background(), fsm.Command{CreateTopic: &fsm.CreateTopic{
			Name: topic, ID: metastore.NewUUID(), Replicas: [][]int32{{1}}, Configs: map[string]string{"compression.type": config}}})
		if err != nil || !res[0].OK() {
			t.Fatalf("create %s: %v %+v", topic, err, res)
		}
		tp := TopicPartition{Topic: topic, Partition: 0}
		for i, source := range []int8{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
			opts := batchtest.DefaultOptions(5000)
			opts.Codec, opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = source, 900, 1, int32(30*i)
			if r := produceOne(t, n.Node, tp, batchtest.Build(opts, recs)); r.Code != 0 || r.BaseOffset != int64(30*i) {
				t.Fatalf("%s from codec %d: %+v", config, source, r)
			}
			reply := make(chan FetchReply, 1)
			n.Fetch(tp, &FetchRequest{Offset: int64(30 * i), MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, Reply: reply})
			f := <-reply
			first, err := batch.ParseHeader(f.Records)
			if err != nil || first.Size() > len(f.Records) {
				t.Fatalf("%s from codec %d: fetched %d bytes: %v", config, source, len(f.Records), err)
			}
			h, got, err := batchtest.Decode(f.Records[:first.Size()])
			want := target
			if target == -1 {
				want = source
			}
			switch {
			case err != nil:
				t.Errorf("%s from codec %d: stored batch: %v", config, source, err)
			case h.Compression() != want:
				t.Errorf("%s from codec %d: stored with codec %d, want %d", config, source, h.Compression(), want)
			case h.BaseOffset != int64(30*i) || h.NumRecords != 30 || h.ProducerID != 900 || h.BaseSequence != int32(30*i) ||
				h.FirstTimestamp != 5000 || h.MaxTimestamp != 5029:
				t.Errorf("%s from codec %d: stored header %+v", config, source, h)
			case len(got) != 30 || !bytes.Equal(got[2].Key, []byte("key")) || got[3].Value != nil ||
				len(got[4].Headers) != 2 || got[4].Headers[1].Value != nil || !bytes.Equal(got[29].Value, recs[29].Value):
				t.Errorf("%s from codec %d: stored records differ from the produced ones", config, source)
			}
		}
	}
}

// A compressed batch that decompresses past what the broker will hold to check it (32 MiB)
// is stored as sent, not refused: Kafka, which checks records as a stream, takes it, and
// a producer's valid data must not be lost to the broker's bound.
func TestBatchTooLargeToCheckIsStored(t *testing.T) {
	n, tp := startWithTopic(t, "inflating")
	defer n.stop(t)
	opts := batchtest.DefaultOptions(time.Now().UnixMilli())
	opts.Codec = batch.CodecZstd
	recs := make([]batchtest.Record, 40)
	for i := range recs {
		recs[i] = batchtest.Record{Value: make([]byte, 1<<20), TimestampDelta: int64(i)} // 40 MiB of zeros
	}
	b := batchtest.Build(opts, recs)
	if len(b) > 1<<20 {
		t.Fatalf("the batch is %d bytes compressed; the case needs it under max.message.bytes", len(b))
	}
	if r := produceOne(t, n.Node, tp, b); r.Code != 0 || r.BaseOffset != 0 {
		t.Fatalf("produce of a batch inflating to 40 MiB: %+v, want it stored at offset 0", r)
	}
	if info, _ := n.PartitionInfo(tp); info.LogEndOffset != 40 {
		t.Fatalf("log end %d, want 40", info.LogEndOffset)
	}
}
