package test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// A power failure may take the tail of a partition's log (README, Durability), and with
// it records a producer snapshot written before the failure still covers. The node
// rebuilt the producers from the log then, but left the snapshot file in place: once the
// log grew past the snapshot's offset again, the next start (a kill -9 within the 30 s
// before a new snapshot) loaded it, and the broker took batches the log no longer holds
// for duplicates: a producer retrying a batch the failure lost was told it was written,
// at an offset holding another producer's record, and its record never was.
func TestProducerSnapshotAheadOfACutLogIsNotReused(t *testing.T) {
	n := startNode(t, "")
	const topic = "snapshot-cut"
	createTopic(t, n, topic, 1, nil)
	cl := n.rawClient()
	first, second := initProducerID(t, cl), initProducerID(t, cl)
	ts := time.Now().UnixMilli()
	produceSeq := func(p *kmsg.InitProducerIDResponse, seq int32) (int16, int64) {
		t.Helper()
		opts := batchtest.DefaultOptions(ts)
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = p.ProducerID, p.ProducerEpoch, seq
		r := produceRaw(t, n.rawClient(), topic, 0, batchtest.Build(opts, []batchtest.Record{{Value: fmt.Appendf(nil, "%d-%d", p.ProducerID, seq)}}))
		return r.ErrorCode, r.BaseOffset
	}
	for seq := range int32(10) {
		if code, off := produceSeq(first, seq); code != 0 || off != int64(seq) {
			t.Fatalf("first producer, sequence %d: error %d at offset %d", seq, code, off)
		}
	}
	// A clean stop writes the producer snapshot at offset 10.
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}

	// The power failure: the log loses its last five batches (offsets 5 to 9).
	seg := filepath.Join(n.dir, "data", "partitions", topic+"-0", "00000000000000000000.log")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for range 5 {
		pos += 12 + int(binary.BigEndian.Uint32(data[pos+8:]))
	}
	if err := os.Truncate(seg, int64(pos)); err != nil {
		t.Fatal(err)
	}
	n.start()

	// Another producer writes offsets 5 to 14, then the node is killed before it
	// writes a new snapshot.
	for seq := range int32(10) {
		if code, off := produceSeq(second, seq); code != 0 || off != int64(5+seq) {
			t.Fatalf("second producer, sequence %d: error %d at offset %d", seq, code, off)
		}
	}
	n.kill()
	n.start()

	// The first producer's batch 5 is in the log no more: its retry is a new batch.
	code, off := produceSeq(first, 5)
	if code != 0 || off != 15 {
		t.Fatalf("first producer's sequence 5 again: error %s at offset %d; want it appended at offset 15 (offset 5 holds the second producer's record)",
			kerr.ErrorForCode(code), off)
	}
	recs := readPartition(t, n, topic, 0, 15, 16)
	if want := fmt.Sprintf("%d-5", first.ProducerID); string(recs[0].Value) != want {
		t.Fatalf("offset 15 holds %q, want %q", recs[0].Value, want)
	}
}
