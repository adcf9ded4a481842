//go:build !linux

package wal

import "os"

// datasync falls back to fsync where fdatasync is unavailable.
func datasync(f *os.File) error { return f.Sync() }

// startWriteback has no portable equivalent; writeback is left to the kernel.
func startWriteback(*os.File, int64, int64) error { return nil }
