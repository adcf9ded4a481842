package wal

import (
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch"
)

func TestStorageErrorLeavesNoPartialBatch(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	l, err := open(dir, testConfig(), zerolog.Nop(), fs.open)
	if err != nil {
		t.Fatal(err)
	}
	var want stored
	rng := rand.New(rand.NewPCG(8, 8))
	appendRandom(t, l, &want, rng, 5, 0)
	sizeBefore := fileSize(t, l.active().logPath())

	fs.set(syscall.ENOSPC, nil)
	_, err = l.Append(makeBatch(3, 100, t0.UnixMilli()), 0, t0)
	mustErrIs(t, err, ErrStorage)
	mustErrIs(t, err, syscall.ENOSPC)
	if got := fileSize(t, l.active().logPath()); got != sizeBefore {
		t.Fatalf("segment file is %d bytes after a failed write, was %d", got, sizeBefore)
	}
	_, err = l.AppendReplicated(makeBatchAt(want.end(), 0))
	mustErrIs(t, err, ErrStorage)
	checkContent(t, l, &want)

	fs.set(nil, nil) // space is free again
	appendRandom(t, l, &want, rng, 5, 0)
	checkContent(t, l, &want)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, testConfig())
	defer l.Close()
	checkContent(t, l, &want)
}

func TestStorageErrorWhileRolling(t *testing.T) {
	dir := t.TempDir()
	fs := &faultFS{}
	cfg := oneBatchSegments()
	l, err := open(dir, cfg, zerolog.Nop(), fs.open)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var want stored
	appendSegments(t, l, &want, t0)

	fs.set(nil, syscall.EMFILE)
	b := makeBatch(4, 1000, t0.UnixMilli())
	_, err = l.Append(b, 1, t0)
	mustErrIs(t, err, ErrStorage)
	if len(l.segments) != 1 || len(l.LeaderEpochs()) != 1 {
		t.Fatalf("failed roll left %d segments and epochs %v", len(l.segments), l.LeaderEpochs())
	}

	fs.set(nil, nil)
	appendSegments(t, l, &want, t0, t0)
	if len(l.segments) != 3 {
		t.Fatalf("%d segments after recovering from the failed roll, want 3", len(l.segments))
	}
	checkContent(t, l, &want)
}

// makeBatchAt builds a batch already carrying its offset and epoch, as a leader sends it.
func makeBatchAt(base int64, epoch int32) []byte {
	b := makeBatch(2, 50, t0.UnixMilli())
	batch.SetBaseOffset(b, base)
	batch.SetPartitionLeaderEpoch(b, epoch)
	return b
}
