package wal

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// appendSegments appends batches with the given timestamps, one segment each: the segment
// size fits exactly one of these batches.
func appendSegments(t *testing.T, l *Log, want *stored, timestamps ...time.Time) {
	t.Helper()
	for _, ts := range timestamps {
		b := makeBatch(4, 1000, ts.UnixMilli())
		if _, err := l.Append(b, 0, t0); err != nil {
			t.Fatal(err)
		}
		want.add(t, b)
	}
}

func oneBatchSegments() Config {
	cfg := testConfig()
	cfg.SegmentBytes = int64(len(makeBatch(4, 1000, 0)))
	return cfg
}

func TestRetentionByTime(t *testing.T) {
	dir := t.TempDir()
	cfg := oneBatchSegments()
	cfg.RetentionMs = time.Hour
	l := openTest(t, dir, cfg)
	defer l.Close()
	var want stored
	now := t0.Add(10 * time.Hour)
	appendSegments(t, l, &want, t0, t0.Add(time.Minute), now.Add(-2*time.Hour), now.Add(-30*time.Minute), t0)

	deleted, err := l.EnforceRetention(now, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	// The first three segments are older than an hour; the fourth is not, so the fifth,
	// old but active, stays as well (retention deletes a prefix, never the active segment).
	if deleted != 3 {
		t.Fatalf("deleted %d segments, want 3", deleted)
	}
	if l.StartOffset() != want.headers[3].BaseOffset {
		t.Fatalf("StartOffset = %d, want %d", l.StartOffset(), want.headers[3].BaseOffset)
	}
	l.deletions.Wait() // the files go in the background
	if n := len(segmentFiles(t, dir, logSuffix)); n != 2 {
		t.Fatalf("%d segment files left, want 2", n)
	}
	_, err = l.Read(0, l.EndOffset(), 1000)
	mustErrIs(t, err, ErrOffsetOutOfRange)
	checkContent(t, l, &stored{batches: want.batches[3:], headers: want.headers[3:]})

	if deleted, err := l.EnforceRetention(now, l.EndOffset()); err != nil || deleted != 0 {
		t.Fatalf("second pass deleted %d, %v", deleted, err)
	}
	cfg.RetentionMs = -1
	l.SetConfig(cfg)
	if deleted, err := l.EnforceRetention(now.Add(1000*time.Hour), l.EndOffset()); err != nil || deleted != 0 {
		t.Fatalf("infinite retention deleted %d, %v", deleted, err)
	}
}

func TestRetentionFallsBackToFileTimeWithoutTimestamps(t *testing.T) {
	dir := t.TempDir()
	cfg := oneBatchSegments()
	cfg.RetentionMs = time.Hour
	l := openTest(t, dir, cfg)
	defer l.Close()
	var want stored
	for range 3 {
		opts := batchtest.DefaultOptions(-1) // no timestamps at all
		opts.MaxTimestamp = -1
		b := batchtest.Build(opts, batchtest.Values(4, 1000))
		if _, err := l.Append(b, 0, t0); err != nil {
			t.Fatal(err)
		}
		want.add(t, b)
	}
	if deleted, _ := l.EnforceRetention(time.Now(), l.EndOffset()); deleted != 0 {
		t.Fatalf("deleted %d freshly written segments without timestamps", deleted)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(l.segments[0].logPath(), old, old); err != nil {
		t.Fatal(err)
	}
	if deleted, err := l.EnforceRetention(time.Now(), l.EndOffset()); err != nil || deleted != 1 {
		t.Fatalf("deleted %d segments, want the one with an old file time: %v", deleted, err)
	}
}

func TestRetentionByBytes(t *testing.T) {
	cfg := oneBatchSegments()
	l := openTest(t, t.TempDir(), cfg)
	defer l.Close()
	var want stored
	for range 6 {
		appendSegments(t, l, &want, t0)
	}
	segSize := cfg.SegmentBytes
	cfg.RetentionBytes = 2*segSize + segSize/2
	l.SetConfig(cfg)
	deleted, err := l.EnforceRetention(t0, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	// 6 segments; keeping at least 2.5 segments' worth leaves 3.
	if deleted != 3 || l.Size() != 3*segSize {
		t.Fatalf("deleted %d, size %d; want 3 deleted and %d bytes", deleted, l.Size(), 3*segSize)
	}
	if l.StartOffset() != want.headers[3].BaseOffset {
		t.Fatalf("StartOffset = %d, want %d", l.StartOffset(), want.headers[3].BaseOffset)
	}
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	// Records at or above the high watermark are not committed yet: their segment stays.
	active := l.segments[len(l.segments)-1].base
	if deleted, _ := l.EnforceRetention(t0, active); deleted != 2 || len(l.segments) != 1 {
		t.Fatalf("retention 0 below the active segment deleted %d, left %d segments; want 2 deleted, the active one kept", deleted, len(l.segments))
	}
	// Once they are committed the active segment goes too, rolled first; appends carry on
	// at the log end.
	if deleted, err := l.EnforceRetention(t0, l.EndOffset()); err != nil || deleted != 1 || l.Size() != 0 || l.StartOffset() != want.end() {
		t.Fatalf("retention 0: deleted %d (%v), size %d, start %d; want the active segment gone and the log empty from %d", deleted, err, l.Size(), l.StartOffset(), want.end())
	}
	if base, err := l.Append(makeBatch(1, 1, t0.UnixMilli()), 0, t0); err != nil || base != want.end() {
		t.Fatalf("append after retention took every segment: base %d, %v; want %d", base, err, want.end())
	}
}

// A partition too quiet to fill its segment still loses records past retention.ms: the
// active segment is rolled and deleted once all of it has expired (as in Kafka), instead
// of living on until segment.ms (7 days by default) rolls it.
func TestRetentionTakesAnExpiredActiveSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.RetentionMs = time.Hour
	l := openTest(t, dir, cfg)
	defer l.Close()
	var want stored
	for range 3 {
		b := makeBatch(4, 100, t0.UnixMilli())
		if _, err := l.Append(b, 0, t0); err != nil {
			t.Fatal(err)
		}
		want.add(t, b)
	}
	if len(l.segments) != 1 {
		t.Fatalf("%d segments; the test wants all batches in the active one", len(l.segments))
	}
	if deleted, err := l.EnforceRetention(t0.Add(30*time.Minute), l.EndOffset()); err != nil || deleted != 0 {
		t.Fatalf("within retention: deleted %d, %v", deleted, err)
	}
	if deleted, err := l.EnforceRetention(t0.Add(2*time.Hour), l.EndOffset()); err != nil || deleted != 1 {
		t.Fatalf("past retention: deleted %d, %v; want the active segment", deleted, err)
	}
	if l.StartOffset() != want.end() || l.EndOffset() != want.end() {
		t.Fatalf("log holds [%d, %d), want it empty at %d", l.StartOffset(), l.EndOffset(), want.end())
	}
	_, err := l.Read(0, l.EndOffset(), 1000)
	mustErrIs(t, err, ErrOffsetOutOfRange)
	if base, err := l.Append(makeBatch(1, 1, t0.UnixMilli()), 0, t0); err != nil || base != want.end() {
		t.Fatalf("append after the active segment expired: base %d, %v; want %d", base, err, want.end())
	}
	l.deletions.Wait()
	if n := len(segmentFiles(t, dir, logSuffix)); n != 1 {
		t.Fatalf("%d segment files, want the one new segment", n)
	}
}

func TestDeleteRecordsBeforePersists(t *testing.T) {
	dir := t.TempDir()
	cfg := oneBatchSegments()
	l := openTest(t, dir, cfg)
	var want stored
	appendSegments(t, l, &want, t0, t0, t0, t0)
	cut := want.headers[2].BaseOffset + 1 // inside the third batch

	mustErrIs(t, l.DeleteRecordsBefore(want.end()+1), ErrOffsetOutOfRange)
	if err := l.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		if l.StartOffset() != cut {
			t.Fatalf("StartOffset = %d, want %d", l.StartOffset(), cut)
		}
		_, err := l.Read(cut-1, l.EndOffset(), 1)
		mustErrIs(t, err, ErrOffsetOutOfRange)
		data, err := l.Read(cut, l.EndOffset(), 1)
		if err != nil || string(data) != string(want.batches[2]) {
			t.Fatalf("Read at the new start did not return the batch holding it: %v", err)
		}
		l.deletions.Wait() // the files go in the background
		if n := len(segmentFiles(t, dir, logSuffix)); n != 2 {
			t.Fatalf("%d segment files, want 2", n)
		}
	}
	check(l)
	if err := l.DeleteRecordsBefore(cut - 1); err != nil || l.StartOffset() != cut {
		t.Fatalf("moving the start backwards: %v, start %d", err, l.StartOffset())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	defer l.Close()
	check(l)

	// Up to the log end: nothing readable, appends continue.
	if err := l.DeleteRecordsBefore(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if data, err := l.Read(l.EndOffset(), l.EndOffset(), 100); err != nil || len(data) != 0 {
		t.Fatalf("read at the end: %d bytes, %v", len(data), err)
	}
	if base, err := l.Append(makeBatch(1, 1, t0.UnixMilli()), 0, t0); err != nil || base != want.end() {
		t.Fatalf("append after deleting everything: base %d, %v", base, err)
	}
}

// Freeing a deleted segment's blocks takes a while (0.3 s for a 1 GiB file here), so the
// files go in the background: appends, syncs and reads carry on meanwhile, and Close
// returns only once they are gone.
func TestDeletedSegmentFilesGoInTheBackground(t *testing.T) {
	dir := t.TempDir()
	cfg := oneBatchSegments()
	l := openTest(t, dir, cfg)
	var want stored
	appendSegments(t, l, &want, t0, t0, t0, t0)
	started, release := make(chan struct{}, 4), make(chan struct{})
	l.deleteFiles = func(s *segment) error {
		started <- struct{}{}
		<-release
		return closeAndRemove(s)
	}
	cfg.RetentionBytes = cfg.SegmentBytes // keep the active segment
	l.SetConfig(cfg)
	if deleted, err := l.EnforceRetention(t0, l.EndOffset()); err != nil || deleted != 3 {
		t.Fatalf("deleted %d: %v", deleted, err)
	}
	<-started // and stuck until released

	appendSegments(t, l, &want, t0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkContent(t, l, &stored{batches: want.batches[3:], headers: want.headers[3:]})
	if n := len(segmentFiles(t, dir, logSuffix)); n != 5 {
		t.Fatalf("%d segment files while the deletion is held, want 5", n)
	}

	close(release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir, logSuffix)); n != 2 {
		t.Fatalf("%d segment files after Close, want 2", n)
	}
}

// A log-start checkpoint that cannot be read (here a directory stands where the file was;
// a process out of file descriptors fails the same way) fails Open with ErrStorage: read
// past, it would have let the records deleted below the log start come back. Once it
// reads again, the log opens at the start it holds. A malformed one is still ignored.
func TestUnreadableLogStartCheckpointFailsOpen(t *testing.T) {
	dir := t.TempDir()
	cfg := oneBatchSegments()
	cfg.SegmentBytes = 1 << 20 // one segment: the deleted records stay in it
	l := openTest(t, dir, cfg)
	var want stored
	appendSegments(t, l, &want, t0, t0, t0)
	cut := want.headers[1].BaseOffset
	if err := l.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, logStartCheckpoint)
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mustRemove(t, path)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(dir, cfg, zerolog.Nop()); err == nil {
		start := l.StartOffset()
		l.Close()
		t.Fatalf("Open with an unreadable log-start checkpoint succeeded, log start %d (records were deleted below %d)", start, cut)
	} else {
		mustErrIs(t, err, ErrStorage)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	if l.StartOffset() != cut {
		t.Fatalf("StartOffset = %d after the checkpoint reads again, want %d", l.StartOffset(), cut)
	}
	l.Close()

	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	defer l.Close()
	if l.StartOffset() != 0 {
		t.Fatalf("StartOffset = %d with a malformed checkpoint, want the first segment's base 0", l.StartOffset())
	}
}
