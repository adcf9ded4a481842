// Package test holds end-to-end tests: a real chronik-node process, real Kafka clients
// (franz-go kgo/kadm, Sarama) over TCP, restarts and faults.
package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// chronikBin is the chronik-node executable under test: $CHRONIK_BIN (make test-e2e sets it)
// or one built once by TestMain.
var chronikBin string

func TestMain(m *testing.M) {
	chronikBin = os.Getenv("CHRONIK_BIN")
	cleanup := func() {}
	if chronikBin == "" {
		dir, err := os.MkdirTemp("", "chronik-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cleanup = func() { os.RemoveAll(dir) }
		chronikBin = filepath.Join(dir, "chronik-node")
		build := exec.Command("go", "build", "-o", chronikBin, "../cmd/chronik-node")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build chronik-node:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// node is one chronik-node process with its data dir and config; it can be killed and
// restarted on the same ports and data.
type node struct {
	t         *testing.T
	dir       string
	config    string
	kafkaAddr string
	debugAddr string

	cgroupProcs string // if set, the cgroup.procs file of the cgroup the node runs in
	openFiles   int    // if set, the node's open-files limit (soft and hard, ulimit -n)

	cmd     *exec.Cmd
	exited  chan error
	logMu   sync.Mutex
	logs    []string
	logFile *os.File
}

// nodeConfig is extra TOML appended to the test node's config.
type nodeConfig string

// startNode starts a node on free loopback ports with the given extra config and waits
// until it is ready.
func startNode(t *testing.T, extra nodeConfig) *node {
	t.Helper()
	return startNodeAt(t, "", extra)
}

// startNodeAt is startNode with the data directory at dataDir ("" for a temp dir).
func startNodeAt(t *testing.T, dataDir string, extra nodeConfig) *node {
	t.Helper()
	n := newNode(t, dataDir, extra)
	n.start()
	return n
}

// newNode prepares a node's config, log and cleanup without starting it.
func newNode(t *testing.T, dataDir string, extra nodeConfig) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), kafkaAddr: freeAddr(t), debugAddr: freeAddr(t)}
	if dataDir == "" {
		dataDir = filepath.Join(n.dir, "data")
	}
	n.config = filepath.Join(n.dir, "node.toml")
	cfg := fmt.Sprintf(`listeners = %q
debug.listener = %q
data.dir = %q
debug.fault_injection = true
raft.tick_interval = "20ms"
group.initial.rebalance.delay.ms = 0
%s
`, n.kafkaAddr, n.debugAddr, dataDir, extra)
	if err := os.WriteFile(n.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(n.dir, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	n.logFile = f
	t.Cleanup(func() {
		n.kill()
		// A node built with -race (make test runs the suite against one too) reports a
		// data race on stderr and keeps going; the test it happened under fails.
		if n.logsContain("WARNING: DATA RACE") {
			t.Errorf("chronik-node reported a data race; its log follows")
		}
		if t.Failed() {
			n.dumpLogs()
		}
		f.Close()
	})
	return n
}

// start launches the process and waits for /healthz.
func (n *node) start() {
	n.t.Helper()
	n.launch()
	n.waitHealthy(30 * time.Second)
}

// launch starts the process without waiting for it to be ready.
func (n *node) launch() {
	n.t.Helper()
	cmd := exec.Command(chronikBin, "--config", n.config)
	switch {
	case n.cgroupProcs != "" && n.openFiles != 0:
		n.t.Fatal("harness: a node in a cgroup with an open-files limit is not supported")
	case n.cgroupProcs != "":
		// The shell joins the cgroup and then becomes the node, so the node runs inside
		// it, under its limits, from its first instruction.
		cmd = exec.Command("/bin/sh", "-c", `echo $$ > "$0" && exec "$@"`, n.cgroupProcs, chronikBin, "--config", n.config)
	case n.openFiles != 0:
		cmd = exec.Command("/bin/sh", "-c", `ulimit -n "$0" && exec "$@"`, strconv.Itoa(n.openFiles), chronikBin, "--config", n.config)
	}
	cmd.SysProcAttr = nodeProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.cmd = cmd
	n.exited = make(chan error, 1)
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			n.logMu.Lock()
			n.logs = append(n.logs, line)
			fmt.Fprintln(n.logFile, line)
			n.logMu.Unlock()
		}
	}()
	go func() {
		<-lines // all output read before Wait closes the pipe
		n.exited <- cmd.Wait()
	}()
}

func (n *node) waitHealthy(timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + n.debugAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-n.exited:
			n.exited <- err
			n.t.Fatalf("chronik-node exited during startup: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("chronik-node not healthy after %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL (no chance to sync) and waits for the process to go.
func (n *node) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// stop sends SIGTERM and returns the exit error (nil for exit status 0).
func (n *node) stop() error {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	select {
	case err := <-n.exited:
		n.cmd = nil
		return err
	case <-time.After(40 * time.Second):
		n.t.Fatal("chronik-node did not exit within 40s of SIGTERM")
		return nil
	}
}

// restart kills the process (-9) and starts it again on the same data.
func (n *node) restart() {
	n.t.Helper()
	n.kill()
	n.start()
}

// logsContain reports whether any log line contains all of the substrings.
func (n *node) logsContain(subs ...string) bool { return n.logLines(subs...) > 0 }

// logLines counts the node's log lines that contain every one of subs.
func (n *node) logLines(subs ...string) int {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	count := 0
	for _, line := range n.logs {
		ok := true
		for _, s := range subs {
			if !strings.Contains(line, s) {
				ok = false
				break
			}
		}
		if ok {
			count++
		}
	}
	return count
}

// logsSoonContain is logsContain for a line the node writes while the test goes on: it
// waits up to 10 s for one. The node writes a line before it answers the request that
// caused it, but the test reads the node's stderr on a goroutine of its own, which may
// not have got to the line when the answer arrives; and some lines (a retention pass's)
// are written by an actor after the change the test waited for is visible.
func (n *node) logsSoonContain(subs ...string) bool { return n.waitLogLines(1, subs...) >= 1 }

// waitLogLines waits up to 10 s for at least atLeast log lines that contain every one of
// subs, and returns how many there are then.
func (n *node) waitLogLines(atLeast int, subs ...string) int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		count := n.logLines(subs...)
		if count >= atLeast || time.Now().After(deadline) {
			return count
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (n *node) dumpLogs() {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	from := max(0, len(n.logs)-80)
	n.t.Logf("last %d log lines of chronik-node (%s):", len(n.logs)-from, n.logFile.Name())
	for _, l := range n.logs[from:] {
		n.t.Log(l)
	}
}

// client returns a kgo client for the node, closed at test end.
func (n *node) client(opts ...kgo.Opt) *kgo.Client {
	n.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.kafkaAddr)}, opts...)...)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(cl.Close)
	return cl
}

// admin returns a kadm client whose metadata cache is short-lived, so listings show the
// broker's state right after a change instead of kgo's cached view of it.
func (n *node) admin() *kadm.Client {
	return kadm.NewClient(n.client(kgo.MetadataMinAge(10 * time.Millisecond)))
}

// debugJSON fetches a debug endpoint into v.
func (n *node) debugJSON(path string, v any) {
	n.t.Helper()
	resp, err := http.Get("http://" + n.debugAddr + path)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		n.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		n.t.Fatalf("GET %s: %v", path, err)
	}
}

// raftStatus is the part of /debug/raft the tests read.
type raftStatus struct {
	Term          uint64 `json:"term"`
	Leader        uint64 `json:"leader"`
	AppliedIndex  uint64 `json:"applied_index"`
	StorageMode   string `json:"storage_mode"`
	SnapshotIndex uint64 `json:"snapshot_index"`
	FirstIndex    uint64 `json:"first_index"`
	LastIndex     uint64 `json:"last_index"`
	LogEntries    uint64 `json:"log_entries"`
	Bootstrap     struct {
		Mode  string `json:"mode"`
		Index uint64 `json:"index"`
	} `json:"bootstrap"`
}

func (n *node) raft() raftStatus {
	var s raftStatus
	n.debugJSON("/debug/raft", &s)
	return s
}

// handedOutPorts are the ports freeAddr already returned in this test process. A port
// is free again the moment freeAddr closes its probe listener, so without this record two
// calls before the node binds (its Kafka and debug listeners) could both draw the same
// port: 1 in 12000 per node, and the suite starts a couple of hundred nodes per `make
// test`, so "address already in use" at startup failed about one CI run in fifty.
var handedOutPorts = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

func freeAddr(t *testing.T) string {
	t.Helper()
	// Ports below Linux's ephemeral range (32768 and up by default): a port the kernel
	// hands out (":0") is also where it puts the outgoing connections of clients, and in
	// the moment between this check and the node binding it, one of the suite's thousands
	// of client connections took it ("address already in use" at startup).
	handedOutPorts.Lock()
	defer handedOutPorts.Unlock()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if handedOutPorts.ports[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			handedOutPorts.ports[port] = true
			defer ln.Close()
			return ln.Addr().String()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually polls cond until it holds or the timeout passes, then fails the test.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// topicNames asks the broker (not kgo's metadata cache) which topics exist.
func (n *node) topicNames(ctx context.Context) []string {
	n.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, n.client())
	if err != nil {
		n.t.Fatal(err)
	}
	var names []string
	for _, t := range resp.Topics {
		if t.ErrorCode == 0 && t.Topic != nil {
			names = append(names, *t.Topic)
		}
	}
	slices.Sort(names)
	return names
}
