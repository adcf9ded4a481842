package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// diskResult is the disk's own sequential append+fdatasync bandwidth: no log, no broker,
// the physical limit the fsync=always runs are held against.
type diskResult struct {
	writeSize, files int
	bytes, syncs     int64
	elapsed          time.Duration
}

func (r diskResult) name() string {
	if r.files == 1 {
		return fmt.Sprintf("write-%s-fdatasync", sizeLabel(r.writeSize))
	}
	return fmt.Sprintf("write-%s-fdatasync-%dfiles", sizeLabel(r.writeSize), r.files)
}

func (r diskResult) mbPerSec() float64 { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// diskLimit appends writeSize bytes and fdatasyncs, in a loop, for d, to new files in dir
// (the directory the nodes' data dirs live in: same filesystem, same disk): one loop per
// file, all at once, as the broker's partitions each sync their own log.
func diskLimit(dir string, writeSize, files int, d time.Duration) (diskResult, error) {
	r := diskResult{writeSize: writeSize, files: files}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	for i := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bytes, syncs, err := appendLoop(filepath.Join(dir, fmt.Sprintf("disk-limit-%d-%d", writeSize, i)), writeSize, start.Add(d))
			mu.Lock()
			defer mu.Unlock()
			r.bytes, r.syncs, errs = r.bytes+bytes, r.syncs+syncs, append(errs, err)
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r, errors.Join(errs...)
}

func appendLoop(path string, writeSize int, until time.Time) (bytes, syncs int64, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, 0, fmt.Errorf("disk limit: %w", err)
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, writeSize)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for time.Now().Before(until) {
		if _, err := f.Write(buf); err != nil {
			return bytes, syncs, fmt.Errorf("disk limit: write %s: %w", path, err)
		}
		if err := fdatasync(f); err != nil {
			return bytes, syncs, fmt.Errorf("disk limit: fdatasync %s: %w", path, err)
		}
		bytes += int64(writeSize)
		syncs++
	}
	return bytes, syncs, nil
}

// fdatasync is what the broker's log does after appending (wal: datasync).
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// freeBytes is the space left to unprivileged users on dir's filesystem.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}
