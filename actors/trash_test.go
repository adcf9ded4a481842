package actors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestTrashFreesTheNameAtOnceAndDeletesInTheBackground(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "events-0")
	writeTree(t, dir, "00000000000000000000.log", "00000000000000000000.index")
	tr := &trash{log: zerolog.Nop()}
	if err := tr.discard(dir, "test"); err != nil {
		t.Fatal(err)
	}
	// The name is free before the deletion finishes: a topic created again under the
	// same name gets an empty directory.
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there after discard: %v", dir, err)
	}
	if err := tr.discard(dir, "test"); err != nil {
		t.Fatalf("discarding a directory that is gone: %v", err)
	}
	tr.wait()
	if left := listDir(t, data); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestTrashSweepsWhatAnEarlierRunLeft(t *testing.T) {
	data := t.TempDir()
	writeTree(t, filepath.Join(data, "events-0.18f00-delete"), "00000000000000000000.log")
	writeTree(t, filepath.Join(data, "events-1"), "00000000000000000000.log")
	tr := &trash{log: zerolog.Nop()}
	tr.sweep(data)
	tr.wait()
	if left := listDir(t, data); len(left) != 1 || left[0] != "events-1" {
		t.Fatalf("after the sweep %v is left, want only the live partition events-1", left)
	}
}

func writeTree(t *testing.T, dir string, files ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A partition of a topic with the longest name Kafka allows (249 characters) has a
// 251-character directory name: moved aside with the deletion suffix appended whole, the
// name exceeded the file system's 255 bytes, the rename failed, and the topic's data
// stayed (and a topic created again under the name could never open its partition).
func TestTrashTakesTheDirectoryOfTheLongestTopicName(t *testing.T) {
	data := t.TempDir()
	topic := strings.Repeat("t", 249)
	tr := &trash{log: zerolog.Nop()}
	for _, p := range []string{"-0", "-1"} {
		dir := filepath.Join(data, topic+p)
		writeTree(t, dir, "00000000000000000000.log")
		if err := tr.discard(dir, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s still there after discard: %v", dir, err)
		}
	}
	// The partitions of a topic are moved aside at once: their names stay apart even
	// when the clock gives both the same stamp.
	now := time.Now()
	if a, b := doomedName(filepath.Join(data, topic+"-0"), now), doomedName(filepath.Join(data, topic+"-1"), now); a == b || len(filepath.Base(a)) > 255 {
		t.Fatalf("partitions 0 and 1 moved aside as %s and %s", filepath.Base(a), filepath.Base(b))
	}
	tr.wait()
	if left := listDir(t, data); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
