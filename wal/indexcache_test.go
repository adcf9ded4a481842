package wal

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// indexBytesOnDisk is what the sealed segments' index files of dir hold.
func indexBytesOnDisk(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		for _, name := range segmentFiles(t, dir, suffix) {
			n += fileSize(t, name)
		}
	}
	return n
}

// A log keeps its flushed sealed segments' indexes in memory only up to the cache's
// bound, reads them back from their files when a read needs them, and finds every
// batch as before; a restart loads no more than the bound either.
func TestSealedIndexesStayWithinTheCacheBound(t *testing.T) {
	const bound = 1 << 10
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 64 // an entry for nearly every batch
	cfg.SegmentBytes = 8 << 10
	cache := NewIndexCache(bound)
	l := openWith(t, dir, cfg, WithIndexCache(cache))
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(3, 3)), 1500, 0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if onDisk := indexBytesOnDisk(t, dir); onDisk < 4*bound {
		t.Fatalf("the sealed indexes hold only %d bytes; the test needs many times the bound of %d", onDisk, bound)
	}
	if held := cache.Bytes(); held > bound {
		t.Fatalf("index cache holds %d bytes after Sync, bound %d", held, bound)
	}
	checkLookups(t, l, &want) // every offset of every segment, indexes read back
	checkContent(t, l, &want)
	if held := cache.Bytes(); held > bound {
		t.Fatalf("index cache holds %d bytes after reading everything, bound %d", held, bound)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if held := cache.Bytes(); held != 0 {
		t.Fatalf("index cache holds %d bytes of a closed log", held)
	}

	reopened := NewIndexCache(bound)
	l = openWith(t, dir, cfg, WithIndexCache(reopened))
	defer l.Close()
	if held := reopened.Bytes(); held > bound {
		t.Fatalf("Open left %d bytes of indexes in the cache, bound %d", held, bound)
	}
	checkLookups(t, l, &want)
}

// A sealed segment whose index file went missing or was damaged after it was written is
// still read correctly, by a scan from its start, and the node says so once.
func TestUnreadableSealedIndexFallsBackToAScan(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 128
	var sink logSink
	l, err := Open(dir, cfg, zerolog.New(&sink), WithIndexCache(NewIndexCache(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(4, 4)), 200, 0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	indexes := segmentFiles(t, dir, indexSuffix)
	times := segmentFiles(t, dir, timeIndexSuffix)
	if len(indexes) < 3 {
		t.Fatalf("%d sealed segments; the test needs 3", len(indexes))
	}
	if err := os.Remove(indexes[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(times[1], []byte("not a time index"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		checkContent(t, l, &want)
		for i := 0; i < len(want.headers); i += 5 {
			h := want.headers[i]
			if off, ts, found := l.OffsetForTimestamp(h.MaxTimestamp); !found || ts < h.MaxTimestamp || off > h.BaseOffset {
				t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v; the batch at %d has it", h.MaxTimestamp, off, ts, found, h.BaseOffset)
			}
		}
	}
	if n := strings.Count(sink.String(), "cannot read a sealed segment's index"); n != 2 {
		t.Fatalf("logged %d warnings about unreadable indexes, want one per damaged segment (2):\n%s", n, sink.String())
	}
}
