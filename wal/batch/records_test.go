package batch_test

import (
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

func TestRecordTimes(t *testing.T) {
	recs := []batchtest.Record{{Value: []byte("a"), TimestampDelta: 0}, {Value: []byte("b"), TimestampDelta: 30}, {Value: []byte("c"), TimestampDelta: 10}}
	b := batchtest.Build(batchtest.DefaultOptions(1000), recs)
	var offs []int32
	var tss []int64
	if err := batch.RecordTimes(b[batch.HeaderSize:], func(off int32, ts int64) bool {
		offs, tss = append(offs, off), append(tss, ts)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(offs) != 3 || offs[2] != 2 || tss[1] != 30 || tss[2] != 10 {
		t.Fatalf("offsets %v timestamps %v", offs, tss)
	}
	stops := 0
	batch.RecordTimes(b[batch.HeaderSize:], func(int32, int64) bool { stops++; return false })
	if stops != 1 {
		t.Fatalf("fn called %d times after returning false", stops)
	}
	if err := batch.RecordTimes([]byte{0x7f, 1, 2}, func(int32, int64) bool { return true }); err == nil {
		t.Fatal("garbage records walked without error")
	}
}
