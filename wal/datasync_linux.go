package wal

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// datasync is fdatasync(2): it flushes data and the file size but skips timestamps, which
// is all a log needs and saves a journal write per sync.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// startWriteback is sync_file_range(SYNC_FILE_RANGE_WRITE): it queues the range's dirty
// pages for writing and returns without waiting, so a later fdatasync finds little left
// to flush.
func startWriteback(f *os.File, off, n int64) error {
	for {
		err := unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
		if err != unix.EINTR {
			return err
		}
	}
}

// preallocate is fallocate(2) with FALLOC_FL_KEEP_SIZE: it reserves disk blocks for the
// range without changing the file's size, so appends land in blocks that already exist.
func preallocate(f *os.File, off, n int64) error {
	for {
		err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
		if err != unix.EINTR {
			return err
		}
	}
}
