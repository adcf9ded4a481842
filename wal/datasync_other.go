//go:build !linux

package wal

import (
	"errors"
	"os"
)

// datasync falls back to fsync where fdatasync is unavailable.
func datasync(f *os.File) error { return f.Sync() }

// startWriteback has no portable equivalent; writeback is left to the kernel.
func startWriteback(*os.File, int64, int64) error { return nil }

// preallocate has no portable equivalent; appends allocate as they go.
func preallocate(*os.File, int64, int64) error { return errors.ErrUnsupported }
