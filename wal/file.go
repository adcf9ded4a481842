package wal

import (
	"fmt"
	"io"
	"os"
)

// segmentFile is what the log needs from a segment's data file. It is an interface so tests
// can inject write failures (a full disk) without filling a real disk.
type segmentFile interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	// Datasync flushes the file's data and size to stable storage (fdatasync).
	Datasync() error
	// StartWriteback starts writing a byte range to disk without waiting for it.
	StartWriteback(off, n int64) error
	// Preallocate reserves disk blocks for a byte range without changing the file size.
	Preallocate(off, n int64) error
	Close() error
}

// openFileFunc opens a segment data file; Open uses openOSFile, tests wrap it.
type openFileFunc func(path string, flag int) (segmentFile, error)

type osFile struct{ *os.File }

func (f osFile) Datasync() error { return datasync(f.File) }

func (f osFile) StartWriteback(off, n int64) error { return startWriteback(f.File, off, n) }

func (f osFile) Preallocate(off, n int64) error { return preallocate(f.File, off, n) }

func openOSFile(path string, flag int) (segmentFile, error) {
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// syncDir makes creations, renames and removals of files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writeFileSync replaces path's content with data and flushes it; the caller syncs the
// directory if the file is new.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeIfExists removes path, ignoring a file that is already gone.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
