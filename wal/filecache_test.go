package wal

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// fileCounter opens real files and counts those open, as the process's file table would.
type fileCounter struct {
	mu   sync.Mutex
	live int
	most int
}

func (c *fileCounter) open(path string, flag int) (segmentFile, error) {
	f, err := openOSFile(path, flag)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.live++
	c.most = max(c.most, c.live)
	c.mu.Unlock()
	return &countedFile{segmentFile: f, c: c}, nil
}

func (c *fileCounter) counts() (live, most int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live, c.most
}

type countedFile struct {
	segmentFile
	c    *fileCounter
	once sync.Once
}

func (f *countedFile) Close() error {
	f.once.Do(func() {
		f.c.mu.Lock()
		f.c.live--
		f.c.mu.Unlock()
	})
	return f.segmentFile.Close()
}

func openCounted(t testing.TB, dir string, cfg Config, files *fileCounter, cache *FileCache) *Log {
	t.Helper()
	l, err := open(dir, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), files.open, WithFileCache(cache))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// A partition with more segments than the process may open files must not hold a file
// per segment: once flushed, sealed segments' files are closed beyond the cache's bound
// and reopened when read, and a restart opens only the active segment.
func TestSealedSegmentFilesStayWithinTheCacheBound(t *testing.T) {
	const bound = 3
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	var files fileCounter
	l := openCounted(t, dir, cfg, &files, NewFileCache(bound))
	var want stored
	appendRandom(t, l, &want, rand.New(rand.NewPCG(5, 5)), 300, 0)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir, logSuffix)); n < 20 {
		t.Fatalf("only %d segments; the test needs many more than the bound", n)
	}
	// The active segment is always open; flushed sealed ones within the bound.
	if live, _ := files.counts(); live > bound+1 {
		t.Fatalf("%d segment files open after Sync, want at most %d", live, bound+1)
	}
	checkContent(t, l, &want) // reads every sealed segment, reopening each
	if live, _ := files.counts(); live > bound+1 {
		t.Fatalf("%d segment files open after reading everything, want at most %d", live, bound+1)
	}
	// Truncating into a sealed segment whose file was closed reopens it, and it takes
	// appends as the active segment.
	cut := want.headers[40].BaseOffset
	if err := l.TruncateTo(cut); err != nil {
		t.Fatalf("TruncateTo(%d): %v", cut, err)
	}
	want = *want.prefix(40)
	appendRandom(t, l, &want, rand.New(rand.NewPCG(6, 6)), 50, 1)
	checkContent(t, l, &want)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if live, _ := files.counts(); live != 0 {
		t.Fatalf("%d segment files still open after Close", live)
	}

	var reopened fileCounter
	l = openCounted(t, dir, cfg, &reopened, NewFileCache(bound))
	defer l.Close()
	if live, _ := reopened.counts(); live != 1 {
		t.Fatalf("Open left %d segment files open, want only the active segment's", live)
	}
	checkContent(t, l, &want)
	if _, most := reopened.counts(); most > bound+1 {
		t.Fatalf("reading the reopened log had %d segment files open at once, want at most %d", most, bound+1)
	}
}

// Readers, retention, Sync and appends racing over logs that share a cache of one file
// and an index cache of one byte: files closed and indexes dropped by the caches under a
// reader never fail or corrupt the read.
func TestConcurrentReadersWithTinyCaches(t *testing.T) {
	cache, indexes := NewFileCache(1), NewIndexCache(1)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := Open(t.TempDir(), concurrencyConfig(), zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), WithFileCache(cache), WithIndexCache(indexes))
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			runConcurrentReaders(t, l)
		}()
	}
	wg.Wait()
	if n := cache.OpenFiles(); n > 1 {
		t.Fatalf("cache holds %d files open after every reader finished, want at most 1", n)
	}
}
