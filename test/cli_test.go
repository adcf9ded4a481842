package test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestHelpFlagsListsTheNodeFlags: the usage text sends readers to --help-flags, which
// was not a flag at all (the node tried to start and failed on it).
func TestHelpFlagsListsTheNodeFlags(t *testing.T) {
	usage, _ := exec.Command(chronikBin, "--help").CombinedOutput()
	if !strings.Contains(string(usage), "--help-flags") {
		t.Fatalf("usage no longer mentions --help-flags:\n%s", usage)
	}
	out, err := exec.Command(chronikBin, "--help-flags").CombinedOutput()
	if err != nil {
		t.Fatalf("chronik-node --help-flags: %v\n%s", err, out)
	}
	for _, flag := range []string{"-config", "-data-dir", "-listen", "-set"} {
		if !strings.Contains(string(out), flag) {
			t.Fatalf("--help-flags does not list %s:\n%s", flag, out)
		}
	}
}

// TestOtherNodeIDOnDataDirRefused: a node started with a node.id other than the one its
// data dir was made by (a typo, or a config copied from another node) must refuse to
// start and say why, and leave the data alone. It used to wait forever for a Raft
// leader it could never be (the stored voters name the old id) while its partition
// manager deleted every partition directory as "no longer exists here", since the
// partitions were assigned to the old id.
func TestOtherNodeIDOnDataDirRefused(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	first := startNodeAt(t, dataDir, "")
	ctx := testContext(t)
	cl := first.client(kgo.DefaultProduceTopic("kept"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := first.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	other := newNode(t, dataDir, "node.id = 2")
	other.launch()
	select {
	case err := <-other.exited:
		other.cmd = nil
		if err == nil {
			t.Fatal("a node with another node.id started on the data dir and exited 0")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a node with another node.id on the data dir neither started nor refused within 30s")
	}
	if !other.logsContain("node.id 2", "voters [1]") {
		t.Fatal("the refusal does not name node.id and the data dir's voters")
	}
	if other.logsContain("partition data deleted") {
		t.Fatal("the refused node deleted partition data")
	}

	again := startNodeAt(t, dataDir, "")
	fetched := again.client(kgo.ConsumeTopics("kept"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())).PollFetches(ctx)
	if errs := fetched.Errors(); len(errs) > 0 || fetched.NumRecords() != 1 {
		t.Fatalf("after the refused start: %d records, errors %v", fetched.NumRecords(), errs)
	}
}

// TestConsoleLogsWithoutColourOffTerminal: logging.format = "console" wrote ANSI colour
// codes whatever stderr was, so a log file or journal got "\x1b[90m" around every field.
// Colour is for a terminal; a pipe or a file gets plain text.
func TestConsoleLogsWithoutColourOffTerminal(t *testing.T) {
	n := startNode(t, `logging.format = "console"`)
	if !n.logsSoonContain("chronik-node ready") {
		t.Fatal("no ready line in the console log")
	}
	if n.logsContain("\x1b[") {
		t.Fatal("console logs on a pipe carry ANSI colour codes")
	}
}

// TestSIGHUPShutsDownCleanly: closing the terminal a node runs in (make run) sends it
// SIGHUP, which killed it on the spot, unsynced. The JVM runs Kafka's shutdown hook on
// SIGHUP as on SIGINT and SIGTERM; so does the node now: it syncs and exits 0.
func TestSIGHUPShutsDownCleanly(t *testing.T) {
	n := startNode(t, "")
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-n.exited:
		n.cmd = nil
		if err != nil {
			t.Fatalf("SIGHUP: exit %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("chronik-node did not exit within 40s of SIGHUP")
	}
	if !n.logsContain("shutdown complete") || !n.logsContain("hangup signal received") {
		t.Fatal("no clean shutdown, naming the signal, logged after SIGHUP")
	}
}
