package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// node runs bin/chronik-node as a child process on fixed loopback ports and a data dir
// that survive restarts.
type node struct {
	bin, dataDir, logPath string
	kafkaAddr, debugAddr  string

	cmd    *exec.Cmd
	exited chan error
	http   *http.Client
}

func newNode(bin, workDir string) (*node, error) {
	kafka, err := freePort()
	if err != nil {
		return nil, err
	}
	debug, err := freePort()
	if err != nil {
		return nil, err
	}
	return &node{
		bin: bin, dataDir: workDir + "/data", logPath: workDir + "/node.log",
		kafkaAddr: kafka, debugAddr: debug,
		http: &http.Client{Timeout: 2 * time.Second},
	}, nil
}

// freePort returns a loopback address nothing listens on right now. Another process may
// take it before the node binds it; the node then fails to start and says so.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start launches the node with the given Raft storage mode and returns how long it took
// from launching the process until /healthz answered 200: restart-to-ready as an operator
// sees it (process start, opening the stores, Bootstrap, Raft leader, registration,
// listeners).
func (n *node) start(ctx context.Context, raftStorage string) (time.Duration, error) {
	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open node log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	n.cmd = exec.Command(n.bin,
		"--data-dir", n.dataDir, "--listen", n.kafkaAddr, "--debug-listen", n.debugAddr,
		"--raft-storage", raftStorage, "--log-level", "warn")
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	began := time.Now()
	if err := n.cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", n.bin, err)
	}
	n.exited = make(chan error, 1)
	go func() { n.exited <- n.cmd.Wait() }()

	url := "http://" + n.debugAddr + "/healthz"
	for {
		if n.healthy(url) {
			return time.Since(began), nil
		}
		select {
		case err := <-n.exited:
			n.cmd = nil
			return 0, fmt.Errorf("node exited before it was ready (%v); log tail:\n%s", err, n.logTail())
		case <-ctx.Done():
			return 0, fmt.Errorf("node not ready: %w; log tail:\n%s", ctx.Err(), n.logTail())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (n *node) healthy(url string) bool {
	resp, err := n.http.Get(url)
	if err != nil {
		return false // not listening yet: the debug listener opens once the node is ready
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM and waits for a clean exit (status 0).
func (n *node) stop() error {
	if n.cmd == nil {
		return nil
	}
	defer func() { n.cmd = nil }()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal node: %w", err)
	}
	select {
	case err := <-n.exited:
		if err != nil {
			return fmt.Errorf("node shutdown: %w; log tail:\n%s", err, n.logTail())
		}
		return nil
	case <-time.After(60 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		return errors.New("node did not stop within 60s of SIGTERM; killed")
	}
}

// raftStatus is the part of /debug/raft the benchmark checks.
type raftStatus struct {
	StorageMode string `json:"storage_mode"`
	Bootstrap   struct {
		Mode string `json:"mode"`
	} `json:"bootstrap"`
}

func (n *node) raftStatus() (raftStatus, error) {
	var st raftStatus
	resp, err := n.http.Get("http://" + n.debugAddr + "/debug/raft")
	if err != nil {
		return st, fmt.Errorf("get /debug/raft: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decode /debug/raft: %w", err)
	}
	return st, nil
}

func (n *node) logTail() string {
	data, err := os.ReadFile(n.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
