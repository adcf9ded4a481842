//go:build !linux && !darwin

package wire

import "errors"

// volumeBytes is unknown here; DescribeLogDirs then answers -1 as Kafka does.
func volumeBytes(string) (total, usable int64, err error) {
	return -1, -1, errors.ErrUnsupported
}
