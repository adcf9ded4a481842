package wal

import (
	"errors"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch"
)

func TestStorageErrorLeavesNoPartialBatch(t *testing.T) {
	dir := t.TempDir()
	l, fs := openFaulty(t, dir, testConfig())
	var want stored
	rng := rand.New(rand.NewPCG(8, 8))
	appendRandom(t, l, &want, rng, 5, 0)
	sizeBefore := fileSize(t, l.active().logPath())

	fs.set(syscall.ENOSPC, nil)
	_, err := l.Append(makeBatch(3, 100, t0.UnixMilli()), 0, t0)
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
	cfg := oneBatchSegments()
	l, fs := openFaulty(t, dir, cfg)
	defer l.Close()
	var want stored
	appendSegments(t, l, &want, t0)

	fs.set(nil, syscall.EMFILE)
	b := makeBatch(4, 1000, t0.UnixMilli())
	_, err := l.Append(b, 1, t0)
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

// TestFailedWriteThatCannotBeCut: the partial bytes stay in the file for a while, but never
// become part of the log: later appends overwrite them, and a segment is cut to its data
// before it is sealed.
func TestFailedWriteThatCannotBeCut(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l, fs := openFaulty(t, dir, cfg)
	var want stored
	small := makeBatch(1, 10, t0.UnixMilli())
	if _, err := l.Append(small, 0, t0); err != nil {
		t.Fatal(err)
	}
	want.add(t, small)

	fs.set(syscall.EIO, nil)
	fs.setTruncateSync(syscall.EIO, nil)
	_, err := l.Append(makeBatch(4, 1000, t0.UnixMilli()), 0, t0)
	mustErrIs(t, err, ErrStorage)
	if fileSize(t, l.active().logPath()) <= int64(len(small)) {
		t.Fatal("the fault did not leave partial bytes behind; the test exercises nothing")
	}
	checkContent(t, l, &want)

	fs.set(nil, nil)
	big := makeBatch(20, 1000, t0.UnixMilli()) // larger than a segment: needs a roll
	_, err = l.Append(big, 0, t0)
	mustErrIs(t, err, ErrStorage) // sealing needs the cut, which still fails
	fs.setTruncateSync(nil, nil)
	if _, err := l.Append(big, 0, t0); err != nil {
		t.Fatal(err)
	}
	want.add(t, big)
	if got := fileSize(t, segmentStem(dir, 0)+logSuffix); got != int64(len(small)) {
		t.Fatalf("sealed segment file is %d bytes, its data %d", got, len(small))
	}
	checkContent(t, l, &want)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	defer l.Close()
	checkContent(t, l, &want)
}

// TestFailedSyncIsRetried: sealed segments whose flush failed stay queued, and the recovery
// point does not move past them until a Sync succeeds.
func TestFailedSyncIsRetried(t *testing.T) {
	dir := t.TempDir()
	l, fs := openFaulty(t, dir, oneBatchSegments())
	defer l.Close()
	var want stored
	appendSegments(t, l, &want, t0, t0, t0)

	fs.setTruncateSync(nil, syscall.EIO)
	mustErrIs(t, l.Sync(), ErrStorage)
	if l.recoveryPoint != 0 || len(l.unsynced) != 2 {
		t.Fatalf("after a failed Sync: recovery point %d, %d segments queued", l.recoveryPoint, len(l.unsynced))
	}
	fs.setTruncateSync(nil, nil)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.recoveryPoint != l.active().base || len(l.unsynced) != 0 {
		t.Fatalf("after Sync: recovery point %d (active %d), %d segments queued", l.recoveryPoint, l.active().base, len(l.unsynced))
	}
	for _, s := range l.segments[:2] {
		if _, err := os.Stat(s.indexPath()); err != nil {
			t.Fatalf("synced sealed segment has no index file: %v", err)
		}
	}
}

// TestSyncFailuresSayWhetherDataIsLost: only a failed fdatasync of the data is
// ErrFlushFailed, after which the broker stops writing to the partition. An index file
// that cannot be written (here: a directory in the way of its temporary file, as an
// exhausted file table or a full disk would refuse it) fails the Sync with ErrStorage
// alone, and a later Sync completes it.
func TestSyncFailuresSayWhetherDataIsLost(t *testing.T) {
	dir := t.TempDir()
	l, fs := openFaulty(t, dir, oneBatchSegments())
	defer l.Close()
	var want stored
	appendSegments(t, l, &want, t0, t0, t0)

	blocker := l.segments[0].indexPath() + tmpSuffix
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	err := l.Sync()
	mustErrIs(t, err, ErrStorage)
	if errors.Is(err, ErrFlushFailed) {
		t.Fatalf("index file not written: %v, which claims the data flush failed", err)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync once the index file can be written: %v", err)
	}
	if l.recoveryPoint != l.active().base {
		t.Fatalf("after Sync: recovery point %d, active segment %d", l.recoveryPoint, l.active().base)
	}

	appendSegments(t, l, &want, t0)
	fs.setTruncateSync(nil, syscall.EIO)
	mustErrIs(t, l.Sync(), ErrFlushFailed)
}

// openFaulty opens a log whose segment files fail on demand.
func openFaulty(t *testing.T, dir string, cfg Config) (*Log, *faultFS) {
	t.Helper()
	fs := &faultFS{}
	l, err := open(dir, cfg, zerolog.Nop(), fs.open)
	if err != nil {
		t.Fatal(err)
	}
	return l, fs
}

// makeBatchAt builds a batch already carrying its offset and epoch, as a leader sends it.
func makeBatchAt(base int64, epoch int32) []byte {
	b := makeBatch(2, 50, t0.UnixMilli())
	batch.SetBaseOffset(b, base)
	batch.SetPartitionLeaderEpoch(b, epoch)
	return b
}

// TestFailedTruncationClosesTheLog: once the files have changed under a failed truncation,
// the Log refuses further use, and reopening it recovers a consistent log.
func TestFailedTruncationClosesTheLog(t *testing.T) {
	dir := t.TempDir()
	l, fs := openFaulty(t, dir, testConfig())
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(2, 3)), 60, 0)
	fs.setTruncateSync(nil, syscall.EIO)
	mustErrIs(t, l.TruncateTo(want.headers[30].BaseOffset), ErrStorage)
	_, err := l.Append(makeBatch(1, 1, 0), 0, t0)
	mustErrIs(t, err, ErrClosed)
	_, err = l.Read(0, 10, 100)
	mustErrIs(t, err, ErrClosed)
	if err := l.Close(); err != nil {
		t.Fatalf("Close of a failed log: %v", err)
	}

	l = openTest(t, dir, testConfig())
	defer l.Close()
	checkContent(t, l, want.prefix(30))
}
