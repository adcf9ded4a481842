package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Checkpoint files hold small pieces of state that must survive a restart. Their text format
// follows Kafka's checkpoint files: a version line ("0"), a count line, then one entry per
// line. They are replaced atomically: write a temporary file, flush it, rename it over the
// old one, flush the directory.
const (
	logStartCheckpoint      = "log-start-offset-checkpoint"
	recoveryPointCheckpoint = "recovery-point-offset-checkpoint"
	epochCheckpoint         = "leader-epoch-checkpoint"
	checkpointVersion       = "0"
	tmpSuffix               = ".tmp"
)

func writeCheckpoint(dir, name string, entries []string) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s\n%d\n", checkpointVersion, len(entries))
	for _, e := range entries {
		buf.WriteString(e)
		buf.WriteByte('\n')
	}
	path := filepath.Join(dir, name)
	if err := writeFileSync(path+tmpSuffix, buf.Bytes()); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	if err := os.Rename(path+tmpSuffix, path); err != nil {
		return fmt.Errorf("replace checkpoint %s: %w", path, err)
	}
	return syncDir(dir)
}

// errMalformedCheckpoint marks a checkpoint file that was read but whose content is not
// a checkpoint: damage, which the caller may work around. Any other read error (the file
// could not be opened or read, say for want of a file descriptor) says nothing about the
// content, and working around it would lose what the file holds.
var errMalformedCheckpoint = errors.New("malformed checkpoint")

// readCheckpoint returns the entries of a checkpoint file; a missing file is (nil, false,
// nil), a malformed one an error wrapping errMalformedCheckpoint.
func readCheckpoint(dir, name string) ([]string, bool, error) {
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) < 2 || lines[0] != checkpointVersion {
		return nil, false, fmt.Errorf("%w %s: unknown version or format", errMalformedCheckpoint, path)
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return nil, false, fmt.Errorf("%w %s: count %q does not match %d entries", errMalformedCheckpoint, path, lines[1], len(lines)-2)
	}
	return lines[2:], true, nil
}

// writeOffsetCheckpoint and readOffsetCheckpoint store a single offset.
func writeOffsetCheckpoint(dir, name string, off int64) error {
	return writeCheckpoint(dir, name, []string{strconv.FormatInt(off, 10)})
}

func readOffsetCheckpoint(dir, name string) (int64, bool, error) {
	entries, ok, err := readCheckpoint(dir, name)
	if err != nil || !ok {
		return 0, ok, err
	}
	if len(entries) != 1 {
		return 0, false, fmt.Errorf("%w %s: %d entries, want 1", errMalformedCheckpoint, name, len(entries))
	}
	off, err := strconv.ParseInt(entries[0], 10, 64)
	if err != nil || off < 0 {
		return 0, false, fmt.Errorf("%w %s: bad offset %q", errMalformedCheckpoint, name, entries[0])
	}
	return off, true, nil
}
