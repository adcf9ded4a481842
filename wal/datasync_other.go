//go:build !linux

package wal

import "os"

// datasync falls back to fsync where fdatasync is unavailable.
func datasync(f *os.File) error { return f.Sync() }
