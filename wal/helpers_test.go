package wal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// t0 is the wall clock tests pretend it is; batch timestamps are near it.
var t0 = time.UnixMilli(1_700_000_000_000)

// logSink collects a Log's output so tests can check what recovery reported.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 10
	cfg.IndexIntervalBytes = 512
	cfg.RetentionMs = -1
	return cfg
}

func openTest(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	return openWith(t, dir, cfg)
}

func openWith(t testing.TB, dir string, cfg Config, opts ...Option) *Log {
	t.Helper()
	l, err := Open(dir, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// makeBatch builds an uncompressed batch of n records of size bytes with timestamps ts...
func makeBatch(n, size int, ts int64) []byte {
	return batchtest.Build(batchtest.DefaultOptions(ts), batchtest.Values(n, size))
}

// stored is what the test expects the log to hold: every appended batch, as patched.
type stored struct {
	batches [][]byte
	headers []batch.Header
}

func (s *stored) add(t testing.TB, b []byte) {
	t.Helper()
	h, err := batch.CheckIntegrity(b)
	if err != nil {
		t.Fatalf("stored batch invalid: %v", err)
	}
	s.batches = append(s.batches, b)
	s.headers = append(s.headers, h)
}

// end is the expected log end offset.
func (s *stored) end() int64 {
	if len(s.headers) == 0 {
		return 0
	}
	return s.headers[len(s.headers)-1].LastOffset() + 1
}

// containing returns the index of the batch that holds offset.
func (s *stored) containing(offset int64) int {
	return sort.Search(len(s.headers), func(i int) bool { return s.headers[i].LastOffset() >= offset })
}

// prefix keeps the first n batches.
func (s *stored) prefix(n int) *stored {
	return &stored{batches: s.batches[:n:n], headers: s.headers[:n:n]}
}

// appendRandom appends count batches of random shape and remembers them.
func appendRandom(t testing.TB, l *Log, s *stored, rng *rand.Rand, count int, epoch int32) {
	t.Helper()
	for range count {
		b := makeBatch(1+rng.IntN(12), 10+rng.IntN(400), t0.UnixMilli()+int64(rng.IntN(100000)))
		base, err := l.Append(b, epoch, t0)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if base != s.end() {
			t.Fatalf("Append returned base %d, want %d", base, s.end())
		}
		s.add(t, b)
	}
}

// readAll reads the log from its start to its end with fetches of maxBytes and returns the
// batches, checking each read returns whole, intact, contiguous batches.
func readAll(t testing.TB, l *Log, maxBytes int) [][]byte {
	t.Helper()
	var out [][]byte
	for off := l.StartOffset(); off < l.EndOffset(); {
		data, err := l.Read(off, l.EndOffset(), maxBytes)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		parts, err := batch.Split(data)
		if err != nil || len(parts) == 0 {
			t.Fatalf("Read(%d) returned %d bytes that are not whole batches: %v", off, len(data), err)
		}
		for _, p := range parts {
			h, err := batch.CheckIntegrity(p)
			if err != nil {
				t.Fatalf("Read(%d) returned a damaged batch: %v", off, err)
			}
			if h.LastOffset() < off || (len(out) > 0 && h.BaseOffset != off) {
				t.Fatalf("Read(%d) returned batch [%d, %d]", off, h.BaseOffset, h.LastOffset())
			}
			off = h.LastOffset() + 1
			out = append(out, p)
		}
	}
	return out
}

// checkContent asserts the log holds exactly the expected batches, byte for byte.
func checkContent(t testing.TB, l *Log, want *stored) {
	t.Helper()
	if got := l.EndOffset(); got != want.end() {
		t.Fatalf("EndOffset = %d, want %d", got, want.end())
	}
	got := readAll(t, l, 3000)
	if len(got) != len(want.batches) {
		t.Fatalf("log holds %d batches, want %d", len(got), len(want.batches))
	}
	for i := range got {
		if !bytes.Equal(got[i], want.batches[i]) {
			t.Fatalf("batch %d differs from what was appended", i)
		}
	}
}

func segmentFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// faultFS opens real files whose writes fail on demand, standing in for a full disk.
type faultFS struct {
	mu          sync.Mutex
	writeErr    error // WriteAt writes half its bytes, then fails with this
	createErr   error // creating a file fails with this
	truncateErr error // Truncate fails with this
	syncErr     error // Datasync fails with this
}

func (fs *faultFS) set(writeErr, createErr error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.writeErr, fs.createErr = writeErr, createErr
}

func (fs *faultFS) setTruncateSync(truncateErr, syncErr error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.truncateErr, fs.syncErr = truncateErr, syncErr
}

func (fs *faultFS) errs() (write, truncate, sync error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.writeErr, fs.truncateErr, fs.syncErr
}

func (fs *faultFS) open(path string, flag int) (segmentFile, error) {
	fs.mu.Lock()
	createErr := fs.createErr
	fs.mu.Unlock()
	if createErr != nil && flag&os.O_CREATE != 0 {
		return nil, &os.PathError{Op: "open", Path: path, Err: createErr}
	}
	f, err := openOSFile(path, flag)
	if err != nil {
		return nil, err
	}
	return &faultFile{segmentFile: f, fs: fs}, nil
}

type faultFile struct {
	segmentFile
	fs *faultFS
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if err, _, _ := f.fs.errs(); err != nil {
		n, _ := f.segmentFile.WriteAt(b[:len(b)/2], off)
		return n, &os.PathError{Op: "write", Path: "segment", Err: err}
	}
	return f.segmentFile.WriteAt(b, off)
}

func (f *faultFile) Truncate(size int64) error {
	if _, err, _ := f.fs.errs(); err != nil {
		return err
	}
	return f.segmentFile.Truncate(size)
}

func (f *faultFile) Datasync() error {
	if _, _, err := f.fs.errs(); err != nil {
		return err
	}
	return f.segmentFile.Datasync()
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func mustErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}
