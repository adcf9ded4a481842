package wal

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// diskBytes is how much disk a file holds, which is what df and du show a user.
func diskBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// The blocks reserved ahead of appends never show in a segment's size, and a sealed or
// closed segment holds no more disk than its data: a quiet partition must not keep
// megabytes it will never write.
func TestPreallocationKeepsSizeAndIsGivenBackWhenSealedOrClosed(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 64 << 20
	cfg.SegmentMs = time.Hour
	l := openTest(t, dir, cfg)

	var want stored
	b := func() []byte { return makeBatch(100, 1000, time.Now().UnixMilli()) } // about 100 KB
	active := segmentFiles(t, dir, logSuffix)[0]
	// The reserve grows in steps, so some appends use it up exactly: append until one
	// leaves blocks reserved past the data.
	for range 10 {
		appendOne(t, l, &want, b())
		if got := fileSize(t, active); got != l.Size() {
			t.Fatalf("active segment is %d bytes by size, the log holds %d", got, l.Size())
		}
		if diskBytes(t, active) > roundUp(l.Size(), 4096)+extentSlack {
			break
		}
	}
	if l.noPrealloc {
		t.Skip("this file system cannot preallocate")
	}
	if got := diskBytes(t, active); got <= roundUp(l.Size(), 4096)+extentSlack {
		t.Fatalf("active segment holds %d bytes of disk for %d of data: nothing reserved ahead", got, l.Size())
	}

	// Roll by age: the sealed segment keeps only its data's blocks.
	later := time.Now().Add(2 * cfg.SegmentMs)
	rolling := b()
	if _, err := l.Append(rolling, 0, later); err != nil {
		t.Fatal(err)
	}
	want.add(t, rolling)
	if n := len(segmentFiles(t, dir, logSuffix)); n != 2 {
		t.Fatalf("%d segments after an append past segment.ms, want 2", n)
	}
	sealed := segmentFiles(t, dir, logSuffix)[0]
	size := fileSize(t, sealed)
	if got := diskBytes(t, sealed); got > roundUp(size, 4096)+extentSlack {
		t.Fatalf("sealed segment of %d bytes holds %d bytes of disk", size, got)
	}
	checkContent(t, l, &want)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	active = segmentFiles(t, dir, logSuffix)[1]
	size = fileSize(t, active)
	if got := diskBytes(t, active); got > roundUp(size, 4096)+extentSlack {
		t.Fatalf("closed active segment of %d bytes holds %d bytes of disk", size, got)
	}

	// Reopened, the log appends after its data, not after the space it had reserved.
	l = openTest(t, dir, cfg)
	defer l.Close()
	appendOne(t, l, &want, b())
	checkContent(t, l, &want)
}

func appendOne(t *testing.T, l *Log, want *stored, b []byte) {
	t.Helper()
	if _, err := l.Append(b, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	want.add(t, b)
}

// extentSlack allows for the file system's own blocks (ext4 counts an extent tree's
// blocks in a file's), far below the reserve of preallocMin or more being checked for.
const extentSlack = 16 << 10

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// A file system that cannot reserve blocks still takes appends.
func TestPreallocationUnsupportedStillAppends(t *testing.T) {
	dir := t.TempDir()
	l, err := open(dir, testConfig(), zerolog.New(zerolog.NewTestWriter(t)), func(path string, flag int) (segmentFile, error) {
		f, err := openOSFile(path, flag)
		if err != nil {
			return nil, err
		}
		return noPreallocFile{f}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var want stored
	for range 5 {
		appendOne(t, l, &want, makeBatch(10, 100, time.Now().UnixMilli()))
	}
	checkContent(t, l, &want)
	if !l.noPrealloc {
		t.Fatal("the log kept trying to preallocate after the file system said it cannot")
	}
}

type noPreallocFile struct{ segmentFile }

func (noPreallocFile) Preallocate(int64, int64) error {
	return &os.SyscallError{Syscall: "fallocate", Err: syscall.EOPNOTSUPP}
}
