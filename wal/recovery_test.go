package wal

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch"
)

// recoveryFixture is a closed log of several segments and what it holds.
type recoveryFixture struct {
	dir      string
	cfg      Config
	want     *stored
	tailBase int64 // base offset of the active segment
	tailPath string
}

func newRecoveryFixture(t *testing.T) recoveryFixture {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig()
	l := openTest(t, dir, cfg)
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(11, 12)), 120, 0)
	f := recoveryFixture{dir: dir, cfg: cfg, want: &want, tailBase: l.active().base, tailPath: l.active().logPath()}
	if len(l.segments) < 3 || f.firstTailBatch() > len(want.batches)-3 {
		t.Fatalf("fixture needs several segments and batches in the tail: %d segments", len(l.segments))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

// firstTailBatch is the index of the first batch in the tail segment.
func (f recoveryFixture) firstTailBatch() int { return f.want.containing(f.tailBase) }

// positionInTail returns where batch i starts in the tail segment file.
func (f recoveryFixture) positionInTail(i int) int64 {
	var pos int64
	for j := f.firstTailBatch(); j < i; j++ {
		pos += int64(len(f.want.batches[j]))
	}
	return pos
}

// reopen opens the fixture's log, capturing what it logs.
func (f recoveryFixture) reopen(t *testing.T) (*Log, *logSink) {
	t.Helper()
	sink := &logSink{}
	l, err := Open(f.dir, f.cfg, zerolog.New(sink))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, sink
}

// checkRecovered asserts the log holds exactly want and keeps working: appends continue at
// the right offset and survive another restart.
func checkRecovered(t *testing.T, f recoveryFixture, l *Log, want *stored) {
	t.Helper()
	checkContent(t, l, want)
	more := &stored{batches: append([][]byte{}, want.batches...), headers: append(want.headers[:0:0], want.headers...)}
	appendRandom(t, l, more, rand.New(rand.NewPCG(99, 99)), 30, 0)
	checkContent(t, l, more)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = f.reopen(t)
	checkContent(t, l, more)
}

func TestRecoveryTruncatedTail(t *testing.T) {
	f := newRecoveryFixture(t)
	last := len(f.want.batches) - 1
	cutAt := f.positionInTail(last) + int64(len(f.want.batches[last]))/2
	if err := os.Truncate(f.tailPath, cutAt); err != nil {
		t.Fatal(err)
	}
	l, sink := f.reopen(t)
	wantLogged(t, sink, "truncating torn or corrupt tail", filepath.Base(f.tailPath), `"bytes":`)
	checkRecovered(t, f, l, f.want.prefix(last))
}

func TestRecoveryFlippedByteInLastBatch(t *testing.T) {
	f := newRecoveryFixture(t)
	last := len(f.want.batches) - 1
	flipByte(t, f.tailPath, f.positionInTail(last)+int64(len(f.want.batches[last]))-5)
	l, sink := f.reopen(t)
	wantLogged(t, sink, "truncating torn or corrupt tail", "crc32c")
	checkRecovered(t, f, l, f.want.prefix(last))
}

func TestRecoveryFlippedByteMidTailCutsEverythingAfter(t *testing.T) {
	f := newRecoveryFixture(t)
	victim := f.firstTailBatch() + 1
	flipByte(t, f.tailPath, f.positionInTail(victim)+40) // inside the CRC-covered header
	l, _ := f.reopen(t)
	checkRecovered(t, f, l, f.want.prefix(victim))
}

func TestRecoveryZeroFilledTail(t *testing.T) {
	// After a crash some file systems show the extended size of a file filled with zeros.
	f := newRecoveryFixture(t)
	file, err := os.OpenFile(f.tailPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write(make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	file.Close()
	l, _ := f.reopen(t)
	checkRecovered(t, f, l, f.want)
}

func TestRecoveryRebuildsIndexes(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, sealedStem string)
	}{
		{"deleted offset index", func(t *testing.T, stem string) { mustRemove(t, stem+indexSuffix) }},
		{"deleted time index", func(t *testing.T, stem string) { mustRemove(t, stem+timeIndexSuffix) }},
		{"garbage offset index", func(t *testing.T, stem string) {
			if err := os.WriteFile(stem+indexSuffix, []byte("definitely not an index"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"time index entries out of order", func(t *testing.T, stem string) {
			raw, err := os.ReadFile(stem + timeIndexSuffix)
			if err != nil || len(raw) < 2*timeEntrySize {
				t.Fatalf("time index of %d bytes: %v", len(raw), err)
			}
			raw = append(raw[timeEntrySize:2*timeEntrySize:2*timeEntrySize], raw[:timeEntrySize]...)
			if err := os.WriteFile(stem+timeIndexSuffix, raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRecoveryFixture(t)
			stem := segmentStem(f.dir, 0)
			before, err := os.ReadFile(stem + indexSuffix)
			if err != nil || len(before) == 0 {
				t.Fatalf("sealed segment has no index to damage: %d bytes, %v", len(before), err)
			}
			beforeTime, _ := os.ReadFile(stem + timeIndexSuffix)
			tt.damage(t, stem)
			l, sink := f.reopen(t)
			wantLogged(t, sink, "rebuilding index", filepath.Base(stem))
			if err := l.Sync(); err != nil { // writes the rebuilt index files
				t.Fatal(err)
			}
			after, _ := os.ReadFile(stem + indexSuffix)
			afterTime, _ := os.ReadFile(stem + timeIndexSuffix)
			if !bytes.Equal(before, after) || !bytes.Equal(beforeTime, afterTime) {
				t.Fatal("rebuilt index files differ from the originals")
			}
			ts, off := l.MaxTimestamp()
			if wantTS, wantOff := maxTimestampOf(f.want); ts != wantTS || off != wantOff {
				t.Fatalf("MaxTimestamp = %d at %d, want %d at %d", ts, off, wantTS, wantOff)
			}
			checkRecovered(t, f, l, f.want)
		})
	}
}

func maxTimestampOf(s *stored) (int64, int64) {
	var ts, off int64 = -1, -1
	for _, h := range s.headers {
		if h.MaxTimestamp > ts {
			ts, off = h.MaxTimestamp, h.LastOffset()
		}
	}
	return ts, off
}

// TestRecoveryAfterCrashWithUnsyncedSegments simulates a crash after several rolls with no
// Sync: sealed segments above the recovery point are rescanned too, and a torn one takes
// every later segment with it (their offsets would not follow on).
func TestRecoveryAfterCrashWithUnsyncedSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	crashed := openTest(t, dir, cfg)
	t.Cleanup(func() { crashed.closeFiles() })
	var want stored
	rng := rand.New(rand.NewPCG(21, 22))
	appendRandom(t, crashed, &want, rng, 40, 0)
	if err := crashed.Sync(); err != nil {
		t.Fatal(err)
	}
	syncedSegments := len(crashed.segments)
	appendRandom(t, crashed, &want, rng, 120, 0)
	if len(crashed.segments) < syncedSegments+3 {
		t.Fatalf("want several unsynced rolls, have %d segments after %d", len(crashed.segments), syncedSegments)
	}
	// Tear the second unsynced sealed segment in half; "crash" by never closing crashed.
	torn := crashed.segments[syncedSegments+1]
	kept := want.containing(torn.base) // the torn segment keeps its first batch only
	firstLost := kept + 1
	if want.headers[firstLost].BaseOffset >= torn.next {
		t.Fatal("the torn segment needs at least two batches")
	}
	pos := int64(len(want.batches[kept]))
	if err := os.Truncate(torn.logPath(), pos+10); err != nil {
		t.Fatal(err)
	}

	f := recoveryFixture{dir: dir, cfg: cfg, want: &want}
	l, sink := f.reopen(t)
	wantLogged(t, sink, "removing segment", "truncating torn or corrupt tail")
	if n := len(segmentFiles(t, dir, logSuffix)); n != syncedSegments+2 {
		t.Fatalf("%d segment files after recovery, want %d", n, syncedSegments+2)
	}
	checkRecovered(t, f, l, want.prefix(firstLost))
}

// TestRecoveryRefusesDamageBelowRecoveryPoint: data a Sync made durable is never cut
// silently; Open fails and says where.
func TestRecoveryRefusesDamageBelowRecoveryPoint(t *testing.T) {
	f := newRecoveryFixture(t)
	stem := segmentStem(f.dir, 0)
	mustRemove(t, stem+indexSuffix)
	flipByte(t, stem+logSuffix, 100)
	_, err := Open(f.dir, f.cfg, zerolog.Nop())
	mustErrIs(t, err, ErrStorage)
	mustErrIs(t, err, ErrDamaged)
	if !strings.Contains(err.Error(), "below the recovery point") {
		t.Fatalf("error does not explain itself: %v", err)
	}
}

func TestRecoveryRemovesLeftovers(t *testing.T) {
	f := newRecoveryFixture(t)
	leftovers := []string{
		filepath.Join(f.dir, logStartCheckpoint+tmpSuffix),
		segmentStem(f.dir, 999999) + indexSuffix,
		segmentStem(f.dir, 999999) + timeIndexSuffix,
	}
	for _, p := range leftovers {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := f.reopen(t)
	for _, p := range leftovers {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived Open", p)
		}
	}
	checkRecovered(t, f, l, f.want)
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	b := make([]byte, 1)
	if _, err := file.ReadAt(b, pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := file.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func wantLogged(t *testing.T, sink *logSink, parts ...string) {
	t.Helper()
	out := sink.String()
	for _, p := range parts {
		if !strings.Contains(out, p) {
			t.Fatalf("log output lacks %q:\n%s", p, out)
		}
	}
}

// saveFiles keeps the content of files, returning a function that puts them back: a crash
// can undo removals whose directory update never reached the disk.
func saveFiles(t *testing.T, paths []string) (restore func()) {
	t.Helper()
	saved := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		saved[p] = data
	}
	return func() {
		for p, data := range saved {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRecoveryWhenTruncationRemovalsAreUndone(t *testing.T) {
	dir := t.TempDir()
	l, all := epochLog(t, dir)
	if err := l.Sync(); err != nil { // a recovery point past several segments
		t.Fatal(err)
	}
	keep := 20
	var later []string
	for _, s := range l.segments[l.segmentIndex(all.headers[keep].BaseOffset)+1:] {
		later = append(later, s.logPath(), s.indexPath(), s.timeIndexPath())
	}
	restore := saveFiles(t, later[:len(later)-2]) // the active segment has no index files
	if err := l.TruncateTo(all.headers[keep].BaseOffset); err != nil {
		t.Fatal(err)
	}
	l.closeFiles() // crash
	restore()
	l = openTest(t, dir, testConfig())
	defer l.Close()
	checkContent(t, l, all.prefix(keep))
}

func TestRecoveryWhenRetentionRemovalsAreUndone(t *testing.T) {
	dir := t.TempDir()
	cfg := oneBatchSegments()
	l := openTest(t, dir, cfg)
	var want stored
	appendSegments(t, l, &want, t0, t0, t0, t0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	restore := saveFiles(t, []string{l.segments[0].logPath(), l.segments[0].indexPath(), l.segments[0].timeIndexPath()})
	cfg.RetentionBytes = cfg.SegmentBytes // keep the active segment
	l.SetConfig(cfg)
	if deleted, err := l.EnforceRetention(t0, l.EndOffset()); err != nil || deleted != 3 {
		t.Fatalf("deleted %d: %v", deleted, err)
	}
	l.deletions.Wait()
	l.closeFiles() // crash
	restore()      // segment 0 comes back, segments 1 and 2 stay gone
	l = openTest(t, dir, cfg)
	defer l.Close()
	checkContent(t, l, &stored{batches: want.batches[3:], headers: want.headers[3:]})
}

// TestReadSkipsAMissingSegment: a sealed segment's files lost while the log was closed
// leave a gap in the offsets. As in Kafka, a read in the gap is served from the next
// segment; it used to fail with ErrStorage, and a consumer crossing the gap was stuck
// there for good.
func TestReadSkipsAMissingSegment(t *testing.T) {
	f := newRecoveryFixture(t)
	logs := segmentFiles(t, f.dir, logSuffix)
	missing, _, _ := parseSegmentName(filepath.Base(logs[1]))
	after, _, _ := parseSegmentName(filepath.Base(logs[2]))
	stem := strings.TrimSuffix(logs[1], logSuffix)
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		mustRemove(t, stem+suffix)
	}
	l, _ := f.reopen(t)
	for _, offset := range []int64{missing, after - 1} {
		data, err := l.Read(offset, l.EndOffset(), 1<<20)
		if err != nil {
			t.Fatalf("read at %d, in the gap [%d, %d): %v", offset, missing, after, err)
		}
		if h, err := batch.ParseHeader(data); err != nil || h.BaseOffset != after {
			t.Fatalf("read at %d in the gap returned a batch at %d (%v), want the next segment's first, at %d", offset, h.BaseOffset, err, after)
		}
	}
	if data, err := l.Read(missing-1, l.EndOffset(), 1); err != nil || len(data) == 0 {
		t.Fatalf("read just below the gap: %d bytes, %v", len(data), err)
	}
}
