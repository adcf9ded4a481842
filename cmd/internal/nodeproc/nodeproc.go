// Package nodeproc runs bin/chronik-node as a child process on free loopback ports, for
// the benchmark tools: start it, wait until it is ready, stop it cleanly, read its log.
package nodeproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is one chronik-node process. Its ports and data dir stay the same across
// restarts (Start after Stop).
type Process struct {
	Bin, DataDir, LogPath string
	KafkaAddr, DebugAddr  string

	cmd    *exec.Cmd
	exited chan error
	http   *http.Client
}

// New prepares a node whose data and log live under dir.
func New(bin, dir string) (*Process, error) {
	kafka, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	debug, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return &Process{
		Bin: bin, DataDir: filepath.Join(dir, "data"), LogPath: filepath.Join(dir, "node.log"),
		KafkaAddr: kafka, DebugAddr: debug,
		http: &http.Client{Timeout: 2 * time.Second},
	}, nil
}

// FreeAddr returns a loopback address nothing listens on right now. Another process may
// take it before the node binds it; the node then fails to start and says so. It prefers
// ports below Linux's ephemeral range, where the load generator's own outgoing connections
// never land.
func FreeAddr() (string, error) {
	for range 200 {
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))); err == nil {
			defer ln.Close()
			return ln.Addr().String(), nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start launches the node with its ports and data dir plus args (more flags), env added to
// the inherited environment, and waits until /healthz answers 200. It returns the time
// from launching the process until then: restart-to-ready as an operator sees it.
func (p *Process) Start(ctx context.Context, env []string, args ...string) (time.Duration, error) {
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open node log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	p.cmd = exec.Command(p.Bin, append([]string{"--data-dir", p.DataDir, "--listen", p.KafkaAddr, "--debug-listen", p.DebugAddr}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	began := time.Now()
	if err := p.cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", p.Bin, err)
	}
	p.exited = make(chan error, 1)
	go func() { p.exited <- p.cmd.Wait() }()
	for {
		if p.healthy() {
			return time.Since(began), nil
		}
		select {
		case err := <-p.exited:
			p.cmd = nil
			return 0, fmt.Errorf("node exited before it was ready (%v); log tail:\n%s", err, p.LogTail(20))
		case <-ctx.Done():
			_ = p.Stop(10 * time.Second)
			return 0, fmt.Errorf("node not ready: %w; log tail:\n%s", ctx.Err(), p.LogTail(20))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (p *Process) healthy() bool {
	resp, err := p.http.Get("http://" + p.DebugAddr + "/healthz")
	if err != nil {
		return false // not listening yet: the debug listener opens once the node is ready
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// Pid is the running process's id, or 0.
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop sends SIGTERM and waits for a clean exit (status 0), killing the node if it takes
// longer than timeout.
func (p *Process) Stop(timeout time.Duration) error {
	if p.cmd == nil {
		return nil
	}
	defer func() { p.cmd = nil }()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal node: %w", err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			return fmt.Errorf("node shutdown: %w; log tail:\n%s", err, p.LogTail(20))
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("node did not stop within %v of SIGTERM; killed", timeout)
	}
}

// LogTail returns the last n lines of the node's log.
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
