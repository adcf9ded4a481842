package wal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// appendEpochs appends a two-record batch per epoch given and returns the log.
func appendEpochs(t *testing.T, dir string, epochs ...int32) *Log {
	t.Helper()
	l := openTest(t, dir, testConfig())
	for _, e := range epochs {
		if _, err := l.Append(makeBatch(2, 10, t0.UnixMilli()), e, t0); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestLeaderEpochCache(t *testing.T) {
	dir := t.TempDir()
	l := appendEpochs(t, dir, 0, 0, 1, 1, 1, 3) // offsets 0-3 epoch 0, 4-9 epoch 1, 10-11 epoch 3
	wantEntries := []EpochEntry{{0, 0}, {1, 4}, {3, 10}}
	if got := l.LeaderEpochs(); !slices.Equal(got, wantEntries) {
		t.Fatalf("LeaderEpochs = %v, want %v", got, wantEntries)
	}
	checkEndOffsets(t, l, map[int32][2]int64{
		-1: {-1, -1},
		0:  {0, 4},
		1:  {1, 10},
		2:  {1, 10}, // unknown epoch between known ones: the one before it, ending where 3 starts
		3:  {3, 12}, // latest: ends at the log end
		4:  {-1, -1},
	})

	// A batch stamped with an older epoch than the log's latest is fenced.
	_, err := l.Append(makeBatch(1, 1, 0), 2, t0)
	mustErrIs(t, err, ErrStaleEpoch)
	if l.EndOffset() != 12 {
		t.Fatalf("stale append moved the end to %d", l.EndOffset())
	}

	// Persisted, and rebuilt from the batches if the checkpoint is lost or damaged.
	for _, damage := range []func(){
		func() {},
		func() { mustRemove(t, filepath.Join(dir, epochCheckpoint)) },
		func() { os.WriteFile(filepath.Join(dir, epochCheckpoint), []byte("0\n2\n1 5\n"), 0o644) },
	} {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		damage()
		l = openTest(t, dir, testConfig())
		if got := l.LeaderEpochs(); !slices.Equal(got, wantEntries) {
			t.Fatalf("after reopen LeaderEpochs = %v, want %v", got, wantEntries)
		}
	}

	if err := l.TruncateTo(6); err != nil {
		t.Fatal(err)
	}
	if got := l.LeaderEpochs(); !slices.Equal(got, []EpochEntry{{0, 0}, {1, 4}}) {
		t.Fatalf("after TruncateTo(6) LeaderEpochs = %v", got)
	}
	checkEndOffsets(t, l, map[int32][2]int64{1: {1, 6}, 3: {-1, -1}})

	if err := l.DeleteRecordsBefore(5); err != nil {
		t.Fatal(err)
	}
	if got := l.LeaderEpochs(); !slices.Equal(got, []EpochEntry{{1, 5}}) {
		t.Fatalf("after DeleteRecordsBefore(5) LeaderEpochs = %v", got)
	}
	l.Close()
}

func TestEndOffsetForEpochBeforeFirstEntry(t *testing.T) {
	l := appendEpochs(t, t.TempDir(), 2, 2, 4)
	defer l.Close()
	// Kafka answers an epoch older than every entry with that epoch and the first start.
	checkEndOffsets(t, l, map[int32][2]int64{1: {1, 0}, 2: {2, 4}, 3: {2, 4}, 4: {4, 6}})
}

func TestEpochCheckpointAheadOfTheLogIsTrimmed(t *testing.T) {
	// The cache is written before the batch; a crash in between leaves an entry beyond the
	// log end, which Open drops.
	dir := t.TempDir()
	l := appendEpochs(t, dir, 0, 1)
	l.Close()
	if err := writeCheckpoint(dir, epochCheckpoint, []string{"0 0", "1 2", "9 4"}); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, testConfig())
	defer l.Close()
	if got := l.LeaderEpochs(); !slices.Equal(got, []EpochEntry{{0, 0}, {1, 2}}) {
		t.Fatalf("LeaderEpochs = %v", got)
	}
}

func checkEndOffsets(t *testing.T, l *Log, want map[int32][2]int64) {
	t.Helper()
	for epoch, w := range want {
		e, off := l.EndOffsetForEpoch(epoch)
		if int64(e) != w[0] || off != w[1] {
			t.Errorf("EndOffsetForEpoch(%d) = (%d, %d), want (%d, %d)", epoch, e, off, w[0], w[1])
		}
	}
}

// A new log writes no epoch checkpoint until it has an epoch to record: creating many
// partitions at once paid an fsync, a rename and a directory fsync each for an empty
// file. The first append records its epoch durably, and a reopen reads it back.
func TestNewLogWritesItsEpochCheckpointOnFirstAppend(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig())
	path := filepath.Join(dir, epochCheckpoint)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a new, empty log wrote %s (stat: %v)", epochCheckpoint, err)
	}
	l.Close()
	l = openTest(t, dir, testConfig()) // reopening the empty log is just as quiet
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("reopening an empty log wrote %s (stat: %v)", epochCheckpoint, err)
	}
	if _, err := l.Append(makeBatch(2, 10, t0.UnixMilli()), 3, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the first append left no %s: %v", epochCheckpoint, err)
	}
	l.Close()
	l = openTest(t, dir, testConfig())
	defer l.Close()
	if got := l.LeaderEpochs(); !slices.Equal(got, []EpochEntry{{3, 0}}) {
		t.Fatalf("LeaderEpochs after reopen = %v", got)
	}
}
