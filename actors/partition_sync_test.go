package actors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/wal"
)

// The periodic producer snapshot is written by the partition's syncer goroutine, not by
// the actor: the snapshot the actor hands over reaches producer.snapshot, and the newest
// one handed over is the one that stays.
func TestSyncerWritesProducerSnapshot(t *testing.T) {
	dir := t.TempDir()
	l, err := wal.Open(dir, wal.Config{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := startSyncer(l, nil, nil, dir, zerolog.Nop(), &storageLogGate{})
	path := filepath.Join(dir, producerSnapshotFile)

	for _, want := range [][]byte{[]byte("first snapshot"), []byte("second snapshot")} {
		s.saveSnapshot(want)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := os.ReadFile(path)
			if err == nil && bytes.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %q (%v), want %q", path, got, err, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	s.stop()
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary snapshot left behind: %v", err)
	}
}
