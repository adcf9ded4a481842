//go:build linux || darwin

package wire

import (
	"fmt"
	"syscall"
)

// volumeBytes returns the size of the file system dir is on and the bytes an
// unprivileged writer may still use there.
func volumeBytes(dir string) (total, usable int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1, -1, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize), nil
}
