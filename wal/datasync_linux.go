package wal

import (
	"os"
	"syscall"
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
