package test

import (
	"encoding/json"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"golang.org/x/sys/unix"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// TestFileTableExhaustionDoesNotDisablePartitions runs the node out of file descriptors
// (as too many partitions or connections for `ulimit -n` do) at the moment a partition
// must write a new file, under log.flush.policy = always. The write that needs the file
// fails with KAFKA_STORAGE_ERROR, a retriable error, and once descriptors are free again
// the partition takes writes and serves everything it acknowledged. It used to treat the
// file it could not open like a failed flush of its data and refuse every write until the
// broker restarted.
func TestFileTableExhaustionDoesNotDisablePartitions(t *testing.T) {
	n := startNode(t, `log.flush.policy = "always"`)
	// The smallest segments: every batch after a segment's first rolls a new one, whose
	// sealed predecessor then needs its index files written by the next fsync.
	createTopic(t, n, "fds", 1, map[string]string{"segment.bytes": "14"})
	cl := n.rawClient()
	produce := func(value string) produced {
		t.Helper()
		recs := batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), []batchtest.Record{{Value: []byte(value)}})
		r := produceRaw(t, cl, "fds", 0, recs)
		return produced{r.ErrorCode, r.BaseOffset}
	}
	if r := produce("before"); r.code != 0 {
		t.Fatalf("first produce: error %d", r.code)
	}

	pid := n.cmd.Process.Pid
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Skipf("cannot read the node's file limit: %v", err)
	}
	// Leave the node exactly one free descriptor: enough to roll the segment, not to
	// write the sealed one's index files.
	limit := limitLeavingFree(t, pid, 1)
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: old.Max}, nil); err != nil {
		t.Skipf("cannot lower the node's file limit: %v", err)
	}
	starved := produce("starved")
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil); err != nil {
		t.Fatal(err)
	}
	if starved.code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce with no file descriptor to spare: error %d, want KAFKA_STORAGE_ERROR (%d)", starved.code, kerr.KafkaStorageError.Code)
	}

	// Descriptors are free again: the partition takes writes, and everything written is
	// served, the starved batch included (it was written; only its flush failed).
	after := produce("after")
	if after.code != 0 {
		t.Fatalf("produce once descriptors are free: error %d, want the partition writable again", after.code)
	}
	var values []string
	for off := int64(0); off <= after.offset; {
		p := fetchRaw(t, cl, "fds", 0, off)
		if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
			t.Fatalf("fetch at %d: error %d, %d bytes (high watermark %d)", off, p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
		}
		parts, err := batch.Split(p.RecordBatches)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range parts {
			h, recs, err := batchtest.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				values = append(values, string(r.Value))
			}
			off = h.LastOffset() + 1
		}
	}
	if want := []string{"before", "starved", "after"}; !slices.Equal(values, want) {
		t.Fatalf("records served: %q, want %q", values, want)
	}
}

// produced is a produce's answer for one partition.
type produced struct {
	code   int16
	offset int64
}

// limitLeavingFree returns the RLIMIT_NOFILE under which process pid has exactly free
// descriptor numbers unused (new descriptors take the lowest unused number below the
// limit).
func limitLeavingFree(t *testing.T, pid, free int) uint64 {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Skipf("cannot list the node's descriptors: %v", err)
	}
	used := map[uint64]bool{}
	for _, e := range entries {
		if fd, err := strconv.ParseUint(e.Name(), 10, 64); err == nil {
			used[fd] = true
		}
	}
	unused := 0
	for fd := uint64(0); ; fd++ {
		if !used[fd] {
			if unused == free {
				return fd
			}
			unused++
		}
	}
}

// A node out of file descriptors logs its debug listener's failed accepts as JSON, like
// everything else it logs, so a log pipeline that parses each line keeps them. Go's HTTP
// server wrote them to stderr through the standard library's global logger, as plain
// text ("2026/11/27 00:55:13 http: Accept error: ...").
func TestDebugListenerErrorsAreStructuredLogs(t *testing.T) {
	n := startNode(t, "")
	pid := n.cmd.Process.Pid
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Skipf("cannot read the node's file limit: %v", err)
	}
	limit := limitLeavingFree(t, pid, 0)
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: old.Max}, nil); err != nil {
		t.Skipf("cannot lower the node's file limit: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	conn, err := net.Dial("tcp", n.debugAddr) // queued by the kernel; the node cannot accept it
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, 10*time.Second, "the node to log its failed accept", func() bool { return n.logsContain("Accept error") })
	restore()
	n.waitHealthy(10 * time.Second)

	n.logMu.Lock()
	defer n.logMu.Unlock()
	for _, line := range n.logs {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}
