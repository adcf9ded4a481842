package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
	"github.com/chronik/chronik-node/wal/batch/codec"
)

// kv is one record as a test writes and reads it; a nil Value is a tombstone.
type kv struct {
	Offset int64
	Key    string
	Value  []byte
}

// appendKVs appends one batch of records with the given keys and values (a nil value is
// a tombstone) and returns the offsets they got.
func appendKVs(t testing.TB, l *Log, opts batchtest.Options, kvs ...kv) []int64 {
	t.Helper()
	recs := make([]batchtest.Record, len(kvs))
	for i, r := range kvs {
		recs[i] = batchtest.Record{Key: []byte(r.Key), Value: r.Value, TimestampDelta: int64(i)}
	}
	base, err := l.Append(batchtest.Build(opts, recs), 0, time.UnixMilli(opts.FirstTimestamp))
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	offs := make([]int64, len(kvs))
	for i := range offs {
		offs[i] = base + int64(i)
	}
	return offs
}

// readKVs reads the whole log from its start as a consumer would, checking every batch,
// and returns its records with their offsets and the batches' headers.
func readKVs(t testing.TB, l *Log) ([]kv, []batch.Header) {
	t.Helper()
	return readKVsFrom(t, l, l.StartOffset())
}

// readKVsFrom is readKVs from offset from.
func readKVsFrom(t testing.TB, l *Log, from int64) ([]kv, []batch.Header) {
	t.Helper()
	d := codec.NewDecompressor(1<<20, 1)
	var out []kv
	var hs []batch.Header
	for off := from; off < l.EndOffset(); {
		data, err := l.Read(off, l.EndOffset(), 1<<20)
		if err != nil {
			t.Fatalf("Read at %d: %v", off, err)
		}
		if len(data) == 0 {
			break
		}
		parts, err := batch.Split(data)
		if err != nil {
			t.Fatalf("Split at %d: %v", off, err)
		}
		for _, b := range parts {
			h, err := batch.CheckIntegrity(b)
			if err != nil {
				t.Fatalf("batch at %d: %v", off, err)
			}
			recs := b[batch.HeaderSize:]
			if h.Compression() != batch.CodecNone {
				if recs, err = d.Decompress(h.Compression(), recs, 1<<26); err != nil {
					t.Fatalf("decompress batch %d: %v", h.BaseOffset, err)
				}
			}
			n := int32(0)
			err = batch.WalkRecords(recs, func(r batch.Record) bool {
				if o := h.BaseOffset + int64(r.OffsetDelta); o >= off {
					out = append(out, kv{Offset: o, Key: string(r.Key), Value: append([]byte(nil), r.Value...)})
					if r.NullValue {
						out[len(out)-1].Value = nil
					}
				}
				n++
				return true
			})
			if err != nil || n != h.NumRecords {
				t.Fatalf("batch %d: %d records walked of %d: %v", h.BaseOffset, n, h.NumRecords, err)
			}
			hs = append(hs, h)
			off = h.LastOffset() + 1
		}
	}
	return out, hs
}

// cleanNow syncs the log (cleaning stays below the recovery point) and runs one full
// clean; it fails the test if no clean was due.
func cleanNow(t testing.TB, l *Log, now time.Time, cfg CleanConfig) CleanStats {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	p := l.PlanClean(now, l.EndOffset(), cfg)
	if p == nil {
		t.Fatalf("no clean planned (cleaned to %d, end %d)", l.CleanedTo(), l.EndOffset())
	}
	res, err := p.Run(nil)
	if err != nil {
		l.Discard(p, nil)
		t.Fatalf("Run: %v", err)
	}
	if err := l.FinishClean(res); err != nil {
		t.Fatalf("FinishClean: %v", err)
	}
	return res.Stats
}

func value(key string, round int) []byte { return []byte(fmt.Sprintf("%s=%04d", key, round)) }

// writeRounds appends rounds of updates to keys (one batch per round, every key once),
// then rolls the segment with a batch for a key of its own, so the updates are sealed.
// It returns, per key, the offset and value of its last update.
func writeRounds(t testing.TB, l *Log, opts batchtest.Options, keys []string, rounds int) map[string]kv {
	t.Helper()
	latest := map[string]kv{}
	for r := 0; r < rounds; r++ {
		var kvs []kv
		for _, k := range keys {
			kvs = append(kvs, kv{Key: k, Value: value(k, r)})
		}
		offs := appendKVs(t, l, opts, kvs...)
		for i, k := range keys {
			latest[k] = kv{Offset: offs[i], Key: k, Value: kvs[i].Value}
		}
	}
	return latest
}

// rollActive seals the active segment by appending batches until a new one starts.
func rollActive(t testing.TB, l *Log, opts batchtest.Options, key string) {
	t.Helper()
	l.mu.RLock()
	n := len(l.segments)
	l.mu.RUnlock()
	for i := 0; ; i++ {
		appendKVs(t, l, opts, kv{Key: fmt.Sprintf("%s-%d", key, i), Value: make([]byte, 1024)})
		l.mu.RLock()
		rolled := len(l.segments) > n
		l.mu.RUnlock()
		if rolled {
			return
		}
	}
}

// checkNewestPerKey checks that got has increasing offsets and that every key in want
// appears exactly once, with its newest value at its original offset.
func checkNewestPerKey(t testing.TB, got []kv, want map[string]kv) {
	t.Helper()
	seen := map[string]int{}
	for i, r := range got {
		if i > 0 && r.Offset <= got[i-1].Offset {
			t.Fatalf("offset %d after %d", r.Offset, got[i-1].Offset)
		}
		if w, ok := want[r.Key]; ok {
			seen[r.Key]++
			if r.Offset != w.Offset || string(r.Value) != string(w.Value) {
				t.Errorf("key %s: offset %d value %q, want offset %d value %q", r.Key, r.Offset, r.Value, w.Offset, w.Value)
			}
		}
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("key %s appears %d times, want once", k, seen[k])
		}
	}
}

// compactTestLog opens a log in a new directory with segments of segmentBytes, for the
// cleaner's tests, and returns it with its directory, its config (to reopen it) and the
// options of the batches the tests append.
func compactTestLog(t *testing.T, segmentBytes int64) (*Log, string, Config, batchtest.Options) {
	t.Helper()
	dir, cfg := t.TempDir(), testConfig()
	cfg.SegmentBytes = segmentBytes
	return openTest(t, dir, cfg), dir, cfg, batchtest.DefaultOptions(t0.UnixMilli())
}

func compactCfg() CleanConfig {
	return CleanConfig{MinCleanableRatio: 0.1, DeleteRetention: time.Hour}
}

func TestCleanKeepsNewestValuePerKeyAtItsOffset(t *testing.T) {
	l, dir, cfg, opts := compactTestLog(t, 4<<10)
	keys := []string{"a", "b", "c", "d", "e"}
	want := writeRounds(t, l, opts, keys, 200)
	rollActive(t, l, opts, "filler")
	before := l.Size()
	end := l.EndOffset()

	st := cleanNow(t, l, t0, compactCfg())
	got, _ := readKVs(t, l)
	checkNewestPerKey(t, got, want)
	if st.RecordsRemoved < int64(len(keys)*199) || l.Size() >= before/4 {
		t.Fatalf("removed %d records, size %d -> %d: the clean did not shrink the log", st.RecordsRemoved, before, l.Size())
	}
	if l.StartOffset() != 0 || l.EndOffset() != end {
		t.Fatalf("log spans [%d, %d) after the clean, want [0, %d)", l.StartOffset(), l.EndOffset(), end)
	}
	if l.CleanedTo() == 0 {
		t.Fatal("cleaner checkpoint did not move")
	}

	// Appends continue after it, and a restart (indexes and checkpoint from disk, then
	// a rescan of everything) finds the same log.
	more := appendKVs(t, l, opts, kv{Key: "z", Value: []byte("after")})
	want["z"] = kv{Offset: more[0], Key: "z", Value: []byte("after")}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	got, _ = readKVs(t, l)
	checkNewestPerKey(t, got, want)
	l.Close()

	os.Remove(filepath.Join(dir, recoveryPointCheckpoint))
	for _, f := range segmentFiles(t, dir, indexSuffix) {
		os.Remove(f)
	}
	l = openTest(t, dir, cfg)
	defer l.Close()
	got, _ = readKVs(t, l)
	checkNewestPerKey(t, got, want)
	if l.EndOffset() != more[0]+1 {
		t.Fatalf("log end %d after rescan, want %d", l.EndOffset(), more[0]+1)
	}
}

func TestCleanRewritesCompressedBatchesInTheirCodec(t *testing.T) {
	for _, c := range []int8{batch.CodecGzip, batch.CodecSnappy, batch.CodecLZ4, batch.CodecZstd} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			cfg := testConfig()
			cfg.SegmentBytes = 4 << 10
			l := openTest(t, t.TempDir(), cfg)
			defer l.Close()
			opts := batchtest.DefaultOptions(t0.UnixMilli())
			opts.Codec = c
			// Each batch updates x and y and writes a key of its own: rewritten batches
			// keep one record of three.
			want := map[string]kv{}
			var firstBatch []batch.Header
			for r := 0; r < 60; r++ {
				own := fmt.Sprintf("own-%d", r)
				offs := appendKVs(t, l, opts, kv{Key: "x", Value: value("x", r)}, kv{Key: own, Value: value(own, r)}, kv{Key: "y", Value: value("y", r)})
				want["x"] = kv{Offset: offs[0], Key: "x", Value: value("x", r)}
				want[own] = kv{Offset: offs[1], Key: own, Value: value(own, r)}
				want["y"] = kv{Offset: offs[2], Key: "y", Value: value("y", r)}
			}
			_, firstBatch = readKVs(t, l)
			rollActive(t, l, batchtest.DefaultOptions(t0.UnixMilli()), "filler")
			cleanNow(t, l, t0, compactCfg())
			got, hs := readKVs(t, l)
			checkNewestPerKey(t, got, want)
			for _, h := range hs[:len(firstBatch)-1] {
				if h.BaseOffset >= firstBatch[len(firstBatch)-1].BaseOffset {
					break
				}
				if h.Compression() != c || h.LastOffsetDelta != 2 || h.NumRecords != 1 || h.BaseOffset%3 != 0 {
					t.Fatalf("rewritten batch %+v: want codec %d, base offset and last offset delta 2 kept, 1 record", h, c)
				}
			}
		})
	}
}

func TestCleanKeepsTombstonesUntilDeleteRetention(t *testing.T) {
	l, _, _, opts := compactTestLog(t, 4<<10)
	defer l.Close()
	writeRounds(t, l, opts, []string{"gone", "stays"}, 20)
	tomb := appendKVs(t, l, opts, kv{Key: "gone"})
	rollActive(t, l, opts, "filler")
	ccfg := compactCfg()

	hasTombstone := func() bool {
		got, _ := readKVs(t, l)
		for _, r := range got {
			if r.Key == "gone" {
				if r.Value != nil || r.Offset != tomb[0] {
					t.Fatalf("key gone: offset %d value %q, want the tombstone at %d", r.Offset, r.Value, tomb[0])
				}
				return true
			}
		}
		return false
	}
	// The first clean keeps the tombstone and drops the values it deletes.
	cleanNow(t, l, t0.Add(2*time.Hour), ccfg)
	if !hasTombstone() {
		t.Fatal("the first clean removed the tombstone")
	}
	// A later clean within delete.retention.ms keeps it.
	opts.FirstTimestamp = t0.Add(30 * time.Minute).UnixMilli()
	writeRounds(t, l, opts, []string{"stays"}, 20)
	rollActive(t, l, opts, "filler2")
	cleanNow(t, l, t0.Add(50*time.Minute), ccfg)
	if !hasTombstone() {
		t.Fatal("a clean within delete.retention.ms removed the tombstone")
	}
	// Once the tombstone's batch is older than delete.retention.ms, it goes.
	writeRounds(t, l, opts, []string{"stays"}, 20)
	rollActive(t, l, opts, "filler3")
	cleanNow(t, l, t0.Add(61*time.Minute), ccfg)
	if hasTombstone() {
		t.Fatal("the tombstone outlived delete.retention.ms")
	}
}

func TestReadAtRemovedOffsetReturnsNextRetained(t *testing.T) {
	l, dir, cfg, opts := compactTestLog(t, 2<<10)
	want := writeRounds(t, l, opts, []string{"k"}, 100) // one record per batch
	rollActive(t, l, opts, "filler")
	cleanNow(t, l, t0, compactCfg())
	// Every segment before the last update's lost all its records; the log still starts
	// at 0 after a restart, so a consumer at a removed offset is not out of range.
	l.Close()
	l = openTest(t, dir, cfg)
	defer l.Close()
	if l.StartOffset() != 0 {
		t.Fatalf("log start offset %d after clean and restart, want 0", l.StartOffset())
	}
	got, _ := readKVs(t, l)
	if len(got) == 0 || got[0].Key != "k" || got[0].Offset != want["k"].Offset {
		t.Fatalf("first records %v, want k at %d first", got[:min(3, len(got))], want["k"].Offset)
	}
	// Every removed offset, in the middle of a segment or past a segment's last
	// remaining batch, reads as the next retained batch.
	for off := int64(0); off < want["k"].Offset; off++ {
		data, err := l.Read(off, l.EndOffset(), 1)
		if err != nil {
			t.Fatalf("Read at removed offset %d: %v", off, err)
		}
		h, err := batch.ParseHeader(data)
		if err != nil || h.BaseOffset != want["k"].Offset {
			t.Fatalf("Read at removed offset %d: batch %d (%v), want %d", off, h.BaseOffset, err, want["k"].Offset)
		}
	}
	// ScanHeaders from a removed offset goes on to the next retained batch too.
	var first int64 = -1
	if err := l.ScanHeaders(1, func(h batch.Header) error {
		if first < 0 {
			first = h.BaseOffset
		}
		return nil
	}); err != nil || first != want["k"].Offset {
		t.Fatalf("ScanHeaders from 1: first batch %d (%v), want %d", first, err, want["k"].Offset)
	}
	if off, _, ok := l.OffsetForTimestamp(t0.UnixMilli()); !ok || off != want["k"].Offset {
		t.Fatalf("OffsetForTimestamp: %d %v, want %d", off, ok, want["k"].Offset)
	}
}

func TestCleanStaysBelowHighWatermarkAndCompactionLag(t *testing.T) {
	l, _, _, opts := compactTestLog(t, 2<<10)
	defer l.Close()
	writeRounds(t, l, opts, []string{"k"}, 100)
	rollActive(t, l, opts, "filler")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// A high watermark inside the first segment leaves nothing cleanable.
	if p := l.PlanClean(t0, 1, compactCfg()); p != nil {
		t.Fatal("planned a clean above the high watermark")
	}
	// Records younger than the minimum compaction lag stay.
	lag := compactCfg()
	lag.MinCompactionLag = time.Hour
	if p := l.PlanClean(t0.Add(30*time.Minute), l.EndOffset(), lag); p != nil {
		t.Fatal("planned a clean of records younger than min.compaction.lag.ms")
	}
	// With the high watermark in the middle, only segments wholly below it are cleaned.
	hw := int64(50)
	p := l.PlanClean(t0, hw, compactCfg())
	if p == nil {
		t.Fatal("no clean below the high watermark")
	}
	res, err := p.Run(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.FinishClean(res); err != nil {
		t.Fatal(err)
	}
	if l.CleanedTo() > hw {
		t.Fatalf("cleaned to %d, above the high watermark %d", l.CleanedTo(), hw)
	}
	got, _ := readKVs(t, l)
	for i := hw; i < 100; i++ {
		if !containsOffset(got, i) {
			t.Fatalf("offset %d, at or above the high watermark, was removed", i)
		}
	}
}

func containsOffset(kvs []kv, off int64) bool {
	for _, r := range kvs {
		if r.Offset == off {
			return true
		}
	}
	return false
}

func TestCleanKeepsEachProducersLastBatch(t *testing.T) {
	l, dir, cfg, opts := compactTestLog(t, 2<<10)
	opts.ProducerID, opts.ProducerEpoch = 7, 0
	var lastBase int64
	for seq := int32(0); seq < 50; seq++ {
		opts.BaseSequence = seq
		lastBase = appendKVs(t, l, opts, kv{Key: "k", Value: value("k", int(seq))})[0]
	}
	// Another producer then overwrites the key: producer 7's last batch is superseded.
	other := batchtest.DefaultOptions(t0.UnixMilli())
	other.ProducerID, other.ProducerEpoch, other.BaseSequence = 8, 0, 0
	appendKVs(t, l, other, kv{Key: "k", Value: []byte("newer")})
	rollActive(t, l, batchtest.DefaultOptions(t0.UnixMilli()), "filler")
	cleanNow(t, l, t0, compactCfg())
	l.Close()

	l = openTest(t, dir, cfg)
	defer l.Close()
	var found batch.Header
	if err := l.ScanHeaders(0, func(h batch.Header) error {
		if h.ProducerID == 7 {
			if found.ProducerID == 7 {
				t.Errorf("producer 7 has batches at %d and %d after the clean", found.BaseOffset, h.BaseOffset)
			}
			found = h
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if found.ProducerID != 7 || found.BaseOffset != lastBase || found.BaseSequence != 49 || found.NumRecords != 1 {
		t.Fatalf("producer 7's batch after clean and restart: %+v, want its last (offset %d, sequence 49)", found, lastBase)
	}
}

func TestOpenDiscardsUnswappedCleanedFiles(t *testing.T) {
	l, dir, cfg, opts := compactTestLog(t, 4<<10)
	writeRounds(t, l, opts, []string{"a", "b"}, 100)
	rollActive(t, l, opts, "filler")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	before, _ := readKVs(t, l)
	p := l.PlanClean(t0, l.EndOffset(), compactCfg())
	res, err := p.Run(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A crash before the swap: the ".cleaned" files are there, nothing else changed.
	for _, o := range res.outputs {
		o.file.Close()
	}
	l.Close()
	if len(segmentFiles(t, dir, logSuffix+cleanedSuffix)) == 0 {
		t.Fatal("Run left no .cleaned file")
	}
	l = openTest(t, dir, cfg)
	defer l.Close()
	if left := segmentFiles(t, dir, logSuffix+cleanedSuffix); len(left) != 0 {
		t.Fatalf("Open left %v", left)
	}
	after, _ := readKVs(t, l)
	if len(after) != len(before) {
		t.Fatalf("%d records after reopening, want the %d before the clean", len(after), len(before))
	}
}

// TestOpenCompletesAnInterruptedSwap stops a swap after each of its file steps, as a
// crash would, and checks that Open finishes it: the cleaned log, each record once.
func TestOpenCompletesAnInterruptedSwap(t *testing.T) {
	for _, stopAfter := range []string{"manifest", "sources set aside", "renamed one", "renamed all"} {
		t.Run(stopAfter, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.SegmentBytes = 2 << 10
			l := openTest(t, dir, cfg)
			opts := batchtest.DefaultOptions(t0.UnixMilli())
			// Keys of their own in every batch: each cleaned segment keeps some.
			want := map[string]kv{}
			for r := 0; r < 100; r++ {
				own := fmt.Sprintf("own-%d", r)
				offs := appendKVs(t, l, opts, kv{Key: "a", Value: value("a", r)}, kv{Key: own, Value: value(own, r)})
				want["a"] = kv{Offset: offs[0], Key: "a", Value: value("a", r)}
				want[own] = kv{Offset: offs[1], Key: own, Value: value(own, r)}
			}
			rollActive(t, l, opts, "filler")
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			p := l.PlanClean(t0, l.EndOffset(), compactCfg())
			res, err := p.Run(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.outputs) < 2 {
				t.Fatalf("%d cleaned segments; the test needs two", len(res.outputs))
			}
			m := cleanSwap{from: res.sources[0].base, to: l.segments[len(res.sources)].base, cleanedTo: res.cleanedTo}
			for _, o := range res.outputs {
				m.outputs = append(m.outputs, o.base)
				o.file.Close()
			}
			if err := writeCheckpoint(dir, cleanSwapManifest, m.encode()); err != nil {
				t.Fatal(err)
			}
			if stopAfter != "manifest" {
				for _, s := range res.sources {
					if err := os.Rename(s.logPath(), s.logPath()+deletedSuffix); err != nil {
						t.Fatal(err)
					}
					os.Remove(s.indexPath())
				}
			}
			renamed := map[string]int{"renamed one": 1, "renamed all": len(res.outputs)}[stopAfter]
			for _, o := range res.outputs[:renamed] {
				if err := os.Rename(o.logPath()+cleanedSuffix, o.logPath()); err != nil {
					t.Fatal(err)
				}
			}
			l.closeFiles() // the crash: no Close, no Sync
			l = openTest(t, dir, cfg)
			defer l.Close()
			got, _ := readKVs(t, l)
			checkNewestPerKey(t, got, want)
			if _, err := os.Stat(filepath.Join(dir, cleanSwapManifest)); !os.IsNotExist(err) {
				t.Fatalf("manifest still there after Open: %v", err)
			}
			if left := segmentFiles(t, dir, logSuffix+deletedSuffix); len(left) != 0 {
				t.Fatalf("replaced segment files left after Open: %v", left)
			}
			if l.CleanedTo() != res.cleanedTo {
				t.Fatalf("cleaned to %d after Open, want %d", l.CleanedTo(), res.cleanedTo)
			}
		})
	}
}

func TestCleanIsAbandonedWhenTheLogChanges(t *testing.T) {
	l, _, _, opts := compactTestLog(t, 2<<10)
	defer l.Close()
	writeRounds(t, l, opts, []string{"a"}, 100)
	rollActive(t, l, opts, "filler")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	before, _ := readKVs(t, l)
	p := l.PlanClean(t0, l.EndOffset(), compactCfg())
	res, err := p.Run(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(l.EndOffset() - 1); err != nil {
		t.Fatal(err)
	}
	if err := l.FinishClean(res); !IsCleanStale(err) {
		t.Fatalf("FinishClean after a truncation: %v, want a stale clean", err)
	}
	after, _ := readKVs(t, l)
	if len(after) != len(before)-1 {
		t.Fatalf("%d records, want %d: the stale clean changed the log", len(after), len(before)-1)
	}
	if l.PlanClean(t0, l.EndOffset(), compactCfg()) == nil {
		t.Fatal("no new clean planned after a stale one")
	}
}

// TestReadsDuringCleans reads the log on other goroutines while the owner appends and
// cleans run and swap in: every read returns whole, valid batches with increasing
// offsets, and the final log holds each key's newest value.
//
// The log keeps at most two sealed segments' files open, so reads reopen files by name
// all along, also while the cleaned files are renamed into place.
func TestReadsDuringCleans(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 2 << 10
	l, err := Open(t.TempDir(), cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), WithFileCache(NewFileCache(2)), WithIndexCache(NewIndexCache(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	opts := batchtest.DefaultOptions(t0.UnixMilli())
	opts.Codec = batch.CodecLZ4

	stop := make(chan struct{})
	errs := make(chan error, 4)
	for g := 0; g < 2; g++ {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				prev := int64(-1)
				for off := l.StartOffset(); off < l.EndOffset(); {
					data, err := l.Read(off, l.EndOffset(), 4096)
					if err != nil {
						errs <- fmt.Errorf("read at %d: %w", off, err)
						return
					}
					if len(data) == 0 {
						break
					}
					parts, err := batch.Split(data)
					if err != nil {
						errs <- err
						return
					}
					for _, b := range parts {
						h, err := batch.CheckIntegrity(b)
						if err != nil || h.BaseOffset <= prev {
							errs <- fmt.Errorf("read at %d: batch %d after %d: %v", off, h.BaseOffset, prev, err)
							return
						}
						prev, off = h.LastOffset(), h.LastOffset()+1
					}
				}
			}
		}()
	}

	keys := []string{"a", "b", "c", "d"}
	want := map[string]kv{}
	cleans := 0
	for round := 0; cleans < 3; round++ {
		if round > 5000 {
			t.Fatalf("only %d cleans in %d rounds", cleans, round)
		}
		var kvs []kv
		for _, k := range keys {
			kvs = append(kvs, kv{Key: k, Value: value(k, round)})
		}
		offs := appendKVs(t, l, opts, kvs...)
		for i, k := range keys {
			want[k] = kv{Offset: offs[i], Key: k, Value: kvs[i].Value}
		}
		if round%50 != 49 {
			continue
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		p := l.PlanClean(t0, l.EndOffset(), compactCfg())
		if p == nil {
			continue
		}
		done := make(chan *CleanResult)
		go func() {
			res, err := p.Run(nil)
			if err != nil {
				errs <- err
			}
			done <- res
		}()
		// The owner keeps appending while the clean runs.
		for i := 0; i < 20; i++ {
			round++
			var kvs []kv
			for _, k := range keys {
				kvs = append(kvs, kv{Key: k, Value: value(k, round)})
			}
			offs := appendKVs(t, l, opts, kvs...)
			for i, k := range keys {
				want[k] = kv{Offset: offs[i], Key: k, Value: kvs[i].Value}
			}
		}
		res := <-done
		if res == nil {
			t.Fatal(<-errs)
		}
		if err := l.FinishClean(res); err != nil {
			t.Fatal(err)
		}
		cleans++
	}
	close(stop)
	for g := 0; g < 2; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, _ := readKVs(t, l)
	last := map[string]kv{}
	for _, r := range got {
		last[r.Key] = r
	}
	for k, w := range want {
		if last[k].Offset != w.Offset || string(last[k].Value) != string(w.Value) {
			t.Errorf("key %s ends at %d %q, want %d %q", k, last[k].Offset, last[k].Value, w.Offset, w.Value)
		}
	}
}

func TestMaxCompactionLagForcesACleanBelowTheDirtyRatio(t *testing.T) {
	l, _, _, opts := compactTestLog(t, 2<<10)
	defer l.Close()
	writeRounds(t, l, opts, []string{"k"}, 100)
	rollActive(t, l, opts, "filler")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	ccfg := compactCfg()
	ccfg.MinCleanableRatio = 1.1 // never reached
	if p := l.PlanClean(t0, l.EndOffset(), ccfg); p != nil {
		t.Fatal("planned a clean below the dirty ratio")
	}
	ccfg.MaxCompactionLag = time.Hour
	if p := l.PlanClean(t0.Add(30*time.Minute), l.EndOffset(), ccfg); p != nil {
		t.Fatal("planned a clean before max.compaction.lag.ms")
	}
	p := l.PlanClean(t0.Add(2*time.Hour), l.EndOffset(), ccfg)
	if p == nil {
		t.Fatal("max.compaction.lag.ms did not force a clean")
	}
	l.Discard(p, nil)
}

// TestRetentionDeletesCleanedSegments is compact,delete: time retention still removes
// whole segments once the cleaner has rewritten them, and the log start moves with it.
func TestRetentionDeletesCleanedSegments(t *testing.T) {
	l, _, cfg, opts := compactTestLog(t, 2<<10)
	defer l.Close()
	for r := 0; r < 100; r++ {
		own := fmt.Sprintf("own-%d", r)
		appendKVs(t, l, opts, kv{Key: "a", Value: value("a", r)}, kv{Key: own, Value: value(own, r)})
	}
	rollActive(t, l, opts, "filler")
	cleanNow(t, l, t0, compactCfg())
	l.mu.RLock()
	segs := len(l.segments)
	l.mu.RUnlock()
	cfg.RetentionMs = time.Hour
	l.SetConfig(cfg)
	n, err := l.EnforceRetention(t0.Add(2*time.Hour), l.EndOffset())
	if err != nil || n != segs {
		t.Fatalf("retention deleted %d of %d segments (%v)", n, segs, err)
	}
	if l.StartOffset() != l.EndOffset() {
		t.Fatalf("log start %d, want the log end %d", l.StartOffset(), l.EndOffset())
	}
}

// TestCleanKeepsBatchesItCannotRead: a compressed batch whose records do not decompress
// (stored unchecked, as produces store batches too large to check) is kept whole; the
// clean goes on around it.
func TestCleanKeepsBatchesItCannotRead(t *testing.T) {
	l, _, _, opts := compactTestLog(t, 2<<10)
	defer l.Close()
	gz := opts
	gz.Codec = batch.CodecGzip
	bad := batchtest.Build(gz, []batchtest.Record{{Key: []byte("k"), Value: []byte("unreadable")}})
	for i := batch.HeaderSize + 10; i < len(bad); i++ {
		bad[i] ^= 0x5a
	}
	batch.Reseal(bad, batch.CodecGzip) // a valid CRC over the garbage
	badBase, err := l.Append(bad, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := writeRounds(t, l, opts, []string{"k"}, 60)
	rollActive(t, l, opts, "filler")
	st := cleanNow(t, l, t0, compactCfg())
	if st.RecordsRemoved < 59 {
		t.Fatalf("removed %d records, want the 59 superseded updates", st.RecordsRemoved)
	}
	data, err := l.Read(badBase, l.EndOffset(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := batch.ParseHeader(data); h.BaseOffset != badBase || !bytes.Equal(data[:h.Size()], bad) {
		t.Fatalf("unreadable batch at %d not kept as it was (got batch %d)", badBase, h.BaseOffset)
	}
	got, _ := readKVsFrom(t, l, badBase+1)
	checkNewestPerKey(t, got, want)
}

// TestBoundedOffsetMapCleansInPasses: with room for fewer keys than the dirty range holds,
// a pass maps what fits and stops the cleaner checkpoint there; later passes clean the
// rest, and the result is the same: each key's newest record.
func TestBoundedOffsetMapCleansInPasses(t *testing.T) {
	l, _, _, opts := compactTestLog(t, 1<<10)
	defer l.Close()
	want := map[string]kv{}
	for r := 0; r < 400; r++ { // a key of its own, and an update of "a"
		own := fmt.Sprintf("own-%d", r)
		offs := appendKVs(t, l, opts, kv{Key: own, Value: value(own, r)}, kv{Key: "a", Value: value("a", r)})
		want[own] = kv{Offset: offs[0], Key: own, Value: value(own, r)}
		want["a"] = kv{Offset: offs[1], Key: "a", Value: value("a", r)}
	}
	rollActive(t, l, opts, "filler")
	l.mu.RLock()
	sealedEnd := l.active().base
	l.mu.RUnlock()
	passes := 0
	for l.CleanedTo() < sealedEnd {
		if passes++; passes > 20 {
			t.Fatalf("cleaned to %d after 20 passes, want %d", l.CleanedTo(), sealedEnd)
		}
		before := l.CleanedTo()
		cleanNow(t, l, t0, CleanConfig{MinCleanableRatio: 0, MaxKeys: 100})
		if l.CleanedTo() <= before {
			t.Fatalf("a pass did not move the cleaner checkpoint from %d", before)
		}
	}
	if passes < 5 {
		t.Fatalf("%d passes with room for 100 keys cleaned %d offsets of 401 keys; want at least 5", passes, sealedEnd)
	}
	got, _ := readKVs(t, l)
	checkNewestPerKey(t, got, want)
}

// TestFailedSwapClosesTheLogAndOpenCompletesIt: a swap that fails half-way (here a
// rename, blocked by a directory in the way) closes the log with ErrClosed; reopening it
// completes the swap from the manifest.
func TestFailedSwapClosesTheLogAndOpenCompletesIt(t *testing.T) {
	l, dir, cfg, opts := compactTestLog(t, 2<<10)
	want := writeRounds(t, l, opts, []string{"a", "b"}, 100)
	rollActive(t, l, opts, "filler")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	p := l.PlanClean(t0, l.EndOffset(), compactCfg())
	res, err := p.Run(nil)
	if err != nil {
		t.Fatal(err)
	}
	blocker := res.sources[len(res.sources)-1].logPath() + deletedSuffix
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.FinishClean(res); !errors.Is(err, ErrClosed) {
		t.Fatalf("FinishClean with a rename failing: %v, want ErrClosed", err)
	}
	if _, err := l.Read(0, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after the failed swap: %v, want ErrClosed", err)
	}
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	defer l.Close()
	got, _ := readKVs(t, l)
	checkNewestPerKey(t, got, want)
	if l.CleanedTo() != res.cleanedTo {
		t.Fatalf("cleaned to %d after Open, want %d", l.CleanedTo(), res.cleanedTo)
	}
}

// A clean that removes every record of the cleanable range (here keyless records, written
// before the topic became compacted) leaves no segment at the log's first offset: the
// log still starts where it did, after a restart too, so a consumer committed there is
// not out of range (and reset to the log end by auto.offset.reset=latest).
func TestCleanRemovingEverythingKeepsTheLogStart(t *testing.T) {
	l, dir, cfg, opts := compactTestLog(t, 2<<10)
	segments := func() int {
		l.mu.RLock()
		defer l.mu.RUnlock()
		return len(l.segments)
	}
	for segments() < 3 {
		if _, err := l.Append(makeBatch(2, 300, t0.UnixMilli()), 0, t0); err != nil {
			t.Fatal(err)
		}
	}
	appendKVs(t, l, opts, kv{Key: "k", Value: []byte("v")})
	st := cleanNow(t, l, t0, compactCfg())
	if st.RecordsRemoved == 0 || st.BytesAfter != 0 {
		t.Fatalf("the clean left %d of %d bytes (removed %d records): the test needs the cleanable range emptied", st.BytesAfter, st.BytesBefore, st.RecordsRemoved)
	}
	l.mu.RLock()
	firstLeft := l.segments[0].base // the active segment's: nothing before it is left
	l.mu.RUnlock()
	want, _ := readKVsFrom(t, l, firstLeft)
	check := func(when string) {
		t.Helper()
		if l.StartOffset() != 0 {
			t.Fatalf("log start %d %s, want 0: a consumer at offset 0 would be out of range", l.StartOffset(), when)
		}
		got, _ := readKVsFrom(t, l, 0)
		if len(got) == 0 || len(got) != len(want) || got[0].Offset != want[0].Offset || firstLeft == 0 {
			t.Fatalf("reading from offset 0 %s: %d records from %v, want the %d from offset %d on", when, len(got), got[0].Offset, len(want), firstLeft)
		}
	}
	check("after the clean")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, cfg)
	defer l.Close()
	check("after a restart")
}
