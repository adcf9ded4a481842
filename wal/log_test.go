package wal

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/chronik/chronik-node/wal/batch"
)

func TestNewLogStartsAtZero(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig())
	defer l.Close()
	if l.StartOffset() != 0 || l.EndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("new log: start %d end %d size %d", l.StartOffset(), l.EndOffset(), l.Size())
	}
	if data, err := l.Read(0, 0, 1000); err != nil || data != nil {
		t.Fatalf("Read on empty log: %d bytes, %v", len(data), err)
	}
	if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("MaxTimestamp on empty log = %d, %d", ts, off)
	}
	if _, _, found := l.OffsetForTimestamp(0); found {
		t.Fatal("OffsetForTimestamp found something in an empty log")
	}
}

func TestAppendReadRoundTripAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig())
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(1, 2)), 300, 0)

	if n := len(segmentFiles(t, dir, logSuffix)); n < 5 {
		t.Fatalf("only %d segments for %d bytes with 16 KiB segments", n, l.Size())
	}
	checkContent(t, l, &want)
	// Every batch alone, by its base offset, by its last offset and by an offset inside it.
	for i, h := range want.headers {
		for _, off := range []int64{h.BaseOffset, h.LastOffset(), (h.BaseOffset + h.LastOffset()) / 2} {
			data, err := l.Read(off, l.EndOffset(), 1)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			if !bytes.Equal(data, want.batches[i]) {
				t.Fatalf("Read(%d, maxBytes 1) did not return exactly batch %d", off, i)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, dir, testConfig())
	defer l.Close()
	checkContent(t, l, &want)
	appendRandom(t, l, &want, rand.New(rand.NewPCG(3, 4)), 20, 0)
	checkContent(t, l, &want)
}

func TestReadLimits(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig())
	defer l.Close()
	var s stored
	for _, n := range []int{3, 5, 2, 4} { // offsets [0,3) [3,8) [8,10) [10,14)
		b := makeBatch(n, 100, t0.UnixMilli())
		if _, err := l.Append(b, 0, t0); err != nil {
			t.Fatal(err)
		}
		s.add(t, b)
	}
	size := func(i int) int { return len(s.batches[i]) }
	join := func(from, to int) []byte { return bytes.Join(s.batches[from:to], nil) }

	tests := []struct {
		name              string
		offset, maxOffset int64
		maxBytes          int
		want              []byte
		wantErr           error
	}{
		{"all", 0, 14, 1 << 20, join(0, 4), nil},
		{"from the middle of a batch", 5, 14, 1 << 20, join(1, 4), nil},
		{"maxBytes smaller than one batch still returns it", 3, 14, 10, join(1, 2), nil},
		{"maxBytes zero still returns one batch", 3, 14, 0, join(1, 2), nil},
		{"maxBytes fits exactly two batches", 0, 14, size(0) + size(1), join(0, 2), nil},
		{"maxBytes one short of two batches", 0, 14, size(0) + size(1) - 1, join(0, 1), nil},
		{"high watermark stops before a batch starting at it", 0, 8, 1 << 20, join(0, 2), nil},
		{"high watermark inside a batch includes that batch", 0, 9, 1 << 20, join(0, 3), nil},
		{"maxOffset beyond the log end means the end", 8, 1000, 1 << 20, join(2, 4), nil},
		{"at the high watermark", 8, 8, 1 << 20, nil, nil},
		{"above the high watermark but below the end", 9, 8, 1 << 20, nil, nil},
		{"at the log end", 14, 14, 1 << 20, nil, nil},
		{"beyond the log end", 15, 20, 1 << 20, nil, ErrOffsetOutOfRange},
		{"negative offset", -1, 14, 1 << 20, nil, ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Read(tt.offset, tt.maxOffset, tt.maxBytes)
			if tt.wantErr != nil {
				mustErrIs(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tt.want))
			}
		})
	}
}

// TestIndexLookupMatchesLinearScan checks, for random logs and index intervals, that the
// index-guided search finds for every offset the same batch as a scan from the segment
// start, both with the indexes built by appends and with those reloaded from disk.
func TestIndexLookupMatchesLinearScan(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed*7))
		cfg := testConfig()
		cfg.IndexIntervalBytes = 1 + rng.IntN(3000)
		cfg.SegmentBytes = int64(4096 + rng.IntN(60000))
		dir := t.TempDir()
		l := openTest(t, dir, cfg)
		var want stored
		appendRandom(t, l, &want, rng, 150+rng.IntN(150), 0)
		checkLookups(t, l, &want)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openTest(t, dir, cfg)
		checkLookups(t, l, &want)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func checkLookups(t *testing.T, l *Log, want *stored) {
	t.Helper()
	indexed := 0
	for _, seg := range l.segments {
		indexed += len(seg.index)
		if seg.indexed { // sealed and flushed: its index is in (or read back into) the cache
			x := l.sealedIndexes(seg)
			if x == nil {
				t.Fatalf("segment %d: index not readable", seg.base)
			}
			indexed += len(x.offsets)
		}
		var pos int64
		for pos < seg.size { // linear scan: every batch of the segment and where it starts
			h, err := seg.readHeader(pos, seg.size)
			if err != nil {
				t.Fatal(err)
			}
			for off := h.BaseOffset; off <= h.LastOffset(); off++ {
				start := seg.startPosition(off)
				if seg.indexed {
					start = l.sealedPosition(seg, off)
				}
				if start > pos {
					t.Fatalf("index sends offset %d to position %d, past its batch at %d", off, start, pos)
				}
				got, at, found, err := seg.findBatch(off, start, seg.size)
				if err != nil || !found || at != pos || got != h {
					t.Fatalf("offset %d: found batch at %d (%v, %v), linear scan says %d", off, at, found, err, pos)
				}
			}
			pos += int64(h.Size())
		}
	}
	if indexed == 0 {
		t.Fatal("no index entries at all: the test exercises nothing")
	}
	for i := 0; i < len(want.headers); i += 7 {
		h := want.headers[i]
		data, err := l.Read(h.LastOffset(), l.EndOffset(), 1)
		if err != nil || !bytes.Equal(data, want.batches[i]) {
			t.Fatalf("Read(%d) did not return batch %d: %v", h.LastOffset(), i, err)
		}
	}
}

func TestRollBySize(t *testing.T) {
	dir := t.TempDir()
	one := makeBatch(10, 100, t0.UnixMilli())
	cfg := testConfig()
	cfg.SegmentBytes = int64(3 * len(one))
	l := openTest(t, dir, cfg)
	defer l.Close()
	var want stored
	for range 7 {
		b := makeBatch(10, 100, t0.UnixMilli())
		if _, err := l.Append(b, 0, t0); err != nil {
			t.Fatal(err)
		}
		want.add(t, b)
	}
	big := makeBatch(50, 200, t0.UnixMilli()) // larger than a segment: gets one to itself
	if _, err := l.Append(big, 0, t0); err != nil {
		t.Fatal(err)
	}
	want.add(t, big)
	if _, err := l.Append(makeBatch(1, 1, t0.UnixMilli()), 0, t0); err != nil {
		t.Fatal(err)
	}

	var bases []int64
	for _, s := range l.segments {
		bases = append(bases, s.base)
		if s.size > cfg.SegmentBytes && s.size != int64(len(big)) {
			t.Errorf("segment %d holds %d bytes, limit %d", s.base, s.size, cfg.SegmentBytes)
		}
	}
	// 3 + 3 + 1 batches of 10 records, then the big one, then the last.
	wantBases := []int64{0, 30, 60, 70, 120}
	if !equalInts(bases, wantBases) {
		t.Fatalf("segment bases %v, want %v", bases, wantBases)
	}
	if files := segmentFiles(t, dir, logSuffix); len(files) != len(wantBases) {
		t.Fatalf("%d segment files on disk, want %d", len(files), len(wantBases))
	}
}

func TestRollByTime(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentMs = time.Hour
	l := openTest(t, t.TempDir(), cfg)
	defer l.Close()
	appendAt := func(now time.Time) int64 {
		base, err := l.Append(makeBatch(2, 10, now.UnixMilli()), 0, now)
		if err != nil {
			t.Fatal(err)
		}
		return base
	}
	appendAt(t0)
	appendAt(t0.Add(59 * time.Minute))
	if n := len(l.segments); n != 1 {
		t.Fatalf("%d segments before the hour is up", n)
	}
	base := appendAt(t0.Add(61 * time.Minute))
	if n := len(l.segments); n != 2 || l.active().base != base {
		t.Fatalf("after an hour: %d segments, active base %d, want 2 and %d", n, l.active().base, base)
	}

	// An idle segment is rolled by EnforceRetention once due; an empty one is not.
	if _, err := l.EnforceRetention(t0.Add(90*time.Minute), l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if n := len(l.segments); n != 2 {
		t.Fatalf("rolled a segment that is not due: %d segments", n)
	}
	if _, err := l.EnforceRetention(t0.Add(125*time.Minute), l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if n := len(l.segments); n != 3 || l.active().size != 0 || l.active().base != l.EndOffset() {
		t.Fatalf("idle due segment not rolled: %d segments", n)
	}
	if _, err := l.EnforceRetention(t0.Add(500*time.Minute), l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if n := len(l.segments); n != 3 {
		t.Fatalf("rolled an empty segment: %d segments", n)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOffsetForTimestampMatchesLinearScan(t *testing.T) {
	t.Run("indexes in memory", func(t *testing.T) { offsetForTimestampMatchesLinearScan(t) })
	// Flushed, every sealed segment's indexes go to a cache too small to keep any: each
	// lookup reads them back from their files.
	t.Run("indexes read back", func(t *testing.T) { offsetForTimestampMatchesLinearScan(t, WithIndexCache(NewIndexCache(1))) })
}

func offsetForTimestampMatchesLinearScan(t *testing.T, opts ...Option) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 300
	l := openWith(t, dir, cfg, opts...)
	rng := rand.New(rand.NewPCG(9, 9))
	var want stored
	appendRandom(t, l, &want, rng, 200, 0) // timestamps jump around: not monotonic
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		var maxTS, maxOff int64 = -1, -1
		for _, h := range want.headers {
			if h.MaxTimestamp > maxTS {
				maxTS, maxOff = h.MaxTimestamp, h.LastOffset()
			}
		}
		if ts, off := l.MaxTimestamp(); ts != maxTS || off != maxOff {
			t.Fatalf("MaxTimestamp = %d at %d, want %d at %d", ts, off, maxTS, maxOff)
		}
		for _, ts := range []int64{0, t0.UnixMilli(), t0.UnixMilli() + 50000, t0.UnixMilli() + 99990, maxTS, maxTS + 1} {
			for i := 0; i < 40; i++ {
				ts := ts + int64(i*37)
				wantOff, wantTS, wantFound := int64(-1), int64(-1), false
				for _, h := range want.headers {
					if h.BaseOffset >= l.StartOffset() || h.LastOffset() >= l.StartOffset() {
						if h.MaxTimestamp >= ts {
							wantOff, wantTS, wantFound = max(h.BaseOffset, l.StartOffset()), h.MaxTimestamp, true
							break
						}
					}
				}
				off, gotTS, found := l.OffsetForTimestamp(ts)
				if off != wantOff || gotTS != wantTS || found != wantFound {
					t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d, %v", ts, off, gotTS, found, wantOff, wantTS, wantFound)
				}
			}
		}
	}
	check(l)
	if err := l.DeleteRecordsBefore(want.headers[50].BaseOffset + 1); err != nil {
		t.Fatal(err)
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openWith(t, dir, cfg, opts...)
	defer l.Close()
	check(l)
}

// ScanHeaders reads headers a chunk at a time (headerReader): batches much smaller and
// much larger than a chunk, straddling chunk and segment boundaries, all come back.
func TestScanHeadersOfMixedBatchSizes(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 256 << 10
	l := openTest(t, t.TempDir(), cfg)
	defer l.Close()
	var want stored
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range 1500 {
		// Small batches of random sizes first, so that headers straddle chunk ends, then
		// some large ones among them.
		size := 1 + rng.IntN(200)
		if i >= 1000 && rng.IntN(4) == 0 {
			size = []int{3000, 9000, 40000}[rng.IntN(3)]
		}
		b := makeBatch(1+rng.IntN(3), size, t0.UnixMilli())
		if _, err := l.Append(b, 0, t0); err != nil {
			t.Fatal(err)
		}
		want.add(t, b)
	}
	if n := len(l.segments); n < 3 {
		t.Fatalf("%d segments, want several", n)
	}
	for _, from := range []int64{0, want.headers[1].BaseOffset, want.headers[333].LastOffset(), want.headers[1499].BaseOffset} {
		checkScanHeaders(t, l, &want, from)
	}
}

// checkScanHeaders checks that ScanHeaders from an offset gives every stored header from
// the batch holding it on.
func checkScanHeaders(t *testing.T, l *Log, want *stored, from int64) {
	t.Helper()
	var got []batch.Header
	if err := l.ScanHeaders(from, func(h batch.Header) error { got = append(got, h); return nil }); err != nil {
		t.Fatal(err)
	}
	first := want.containing(from)
	if len(got) != len(want.headers)-first {
		t.Fatalf("ScanHeaders(%d) gave %d headers, want %d", from, len(got), len(want.headers)-first)
	}
	for i, h := range got {
		if h != want.headers[first+i] {
			t.Fatalf("ScanHeaders(%d) header %d = %+v, want %+v", from, i, h, want.headers[first+i])
		}
	}
}

func TestScanHeaders(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig())
	defer l.Close()
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(5, 5)), 120, 0)
	for _, from := range []int64{0, want.headers[40].BaseOffset + 1, want.headers[119].LastOffset(), want.end()} {
		checkScanHeaders(t, l, &want, from)
	}
}
