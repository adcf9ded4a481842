package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/raft/v3/raftpb"
)

const crashHelperEnv = "CHRONIK_RAFTSTORE_CRASH_WRITER"

func snapshotData(index uint64) []byte { return fmt.Appendf(nil, "state machine at %d", index) }

// TestBoltSurvivesKill9 runs a writer in a child process, kills it with SIGKILL at a
// different point in each round, and checks that the file reopens with a consistent log
// that still holds everything the writer had been told was saved.
func TestBoltSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := tempDBPath(t)
	for round, saves := range []int{5, 23, 41, 12, 60} {
		acked := runCrashWriter(t, path, saves)
		s, err := OpenBolt(path, BoltOptions{}, zerolog.Nop())
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		checkCrashedLog(t, s, acked)
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
	}
}

// runCrashWriter starts the writer, waits until it has acknowledged `saves` saves, kills
// it and returns the last index it acknowledged.
func runCrashWriter(t *testing.T, path string, saves int) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start writer: %v", err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var acked uint64
	deadline := time.After(60 * time.Second)
	for seen := 0; seen < saves; {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("writer exited early: %s", stderr.String())
			}
			if idx, found := strings.CutPrefix(line, "saved "); found {
				if acked, err = strconv.ParseUint(idx, 10, 64); err != nil {
					t.Fatalf("writer said %q", line)
				}
				seen++
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("writer acknowledged fewer than %d saves in 60s: %s", saves, stderr.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code runs
		t.Fatalf("kill writer: %v", err)
	}
	go func() {
		for range lines { // drain so the reader goroutine ends
		}
	}()
	_ = cmd.Wait()
	return acked
}

// checkCrashedLog checks the invariants of a log the crash writer produced.
func checkCrashedLog(t *testing.T, s Storage, acked uint64) {
	t.Helper()
	st := s.Stats()
	if st.LastIndex < acked {
		t.Fatalf("last index %d after crash, but the writer was told %d was saved", st.LastIndex, acked)
	}
	hs, _, err := s.InitialState()
	if err != nil {
		t.Fatal(err)
	}
	if hs.GetCommit() > st.LastIndex || hs.GetCommit() < st.FirstIndex-1 {
		t.Fatalf("commit %d outside the log [%d, %d]", hs.GetCommit(), st.FirstIndex-1, st.LastIndex)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if i := snap.GetMetadata().GetIndex(); i > 0 && !bytes.Equal(snap.GetData(), snapshotData(i)) {
		t.Fatalf("snapshot at %d holds %q", i, snap.GetData())
	}
	if st.FirstIndex-1 > st.SnapshotIndex {
		t.Fatalf("compacted through %d beyond snapshot %d", st.FirstIndex-1, st.SnapshotIndex)
	}
	ents, err := s.Entries(st.FirstIndex, st.LastIndex+1, noLimit)
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", st.FirstIndex, st.LastIndex+1, err)
	}
	prevTerm, err := s.Term(st.FirstIndex - 1)
	if err != nil {
		t.Fatal(err)
	}
	for k, e := range ents {
		if err := checkWrittenEntry(e, st.FirstIndex+uint64(k), prevTerm); err != nil {
			t.Fatal(err)
		}
		prevTerm = e.GetTerm()
	}
	if e := ents[len(ents)-1]; hs.GetTerm() < e.GetTerm() {
		t.Fatalf("hard state term %d below last entry's term %d", hs.GetTerm(), e.GetTerm())
	}
}

// TestCrashWriterProcess is the child of TestBoltSurvivesKill9, not a test of its own:
// it appends to the log forever, with snapshots, compactions and suffix overwrites,
// printing "saved <last index>" after each Save returns.
func TestCrashWriterProcess(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("helper process for TestBoltSurvivesKill9")
	}
	s, err := OpenBolt(path, BoltOptions{}, zerolog.Nop())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	hs, _, _ := s.InitialState()
	term := max(hs.GetTerm(), 1)
	last, _ := s.LastIndex()
	for n := 1; ; n++ {
		from := last + 1
		count := uint64(1 + n%64)
		if n%37 == 0 && last > 3 { // a new leader replaces the last entries
			from, count, term = last-2, max(count, 3), term+1
		}
		last = from + count - 1
		if err := s.Save(hardState(term, 1, from-1), entries(from, last, term), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("saved %d\n", last)
		if n%20 == 0 {
			// As raft does, snapshot and compact no further than the hard state says is
			// committed: a kill between a compaction past it and the next Save left a log
			// whose commit index lay below its first entry.
			commit := from - 1
			if _, err := s.CreateSnapshot(commit, &raftpb.ConfState{Voters: []uint64{1}}, snapshotData(commit)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			if err := s.Compact(commit - 10); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
}
