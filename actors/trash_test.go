package actors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func TestTrashNameFitsTheFileSystemForTheLongestTopicName(t *testing.T) {
	topic := strings.Repeat("t", 249)
	for _, base := range []string{topic + "-0", topic + "-1", topic + "-1999", "events-3"} {
		name := trashName(base, 0x18ebba448fa77a83)
		if len(name) > maxFileNameBytes || !strings.HasSuffix(name, trashSuffix) {
			t.Fatalf("%d-byte base %q...: trash name is %d bytes (limit %d) or lacks %q", len(base), base[:8], len(name), maxFileNameBytes, trashSuffix)
		}
		partition := base[strings.LastIndexByte(base, '-'):]
		if !strings.Contains(name, partition+".") {
			t.Fatalf("trash name %q lost the partition number %s", name[len(name)-40:], partition)
		}
	}
	if got := trashName("events-3", 0x1f); got != "events-3.1f-delete" {
		t.Fatalf("short names keep their whole base: got %q", got)
	}
	// The directory really moves aside on disk.
	data := t.TempDir()
	dir := filepath.Join(data, topic+"-10")
	writeTree(t, dir, "00000000000000000000.log")
	tr := &trash{log: zerolog.Nop()}
	if err := tr.discard(dir, "test"); err != nil {
		t.Fatal(err)
	}
	tr.wait()
	if left := listDir(t, data); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
