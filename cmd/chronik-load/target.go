package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// target is a broker under load: a fresh chronik-node process, or kfake in this process.
type target interface {
	Name() string
	Addr() string
	// CPU is the broker's own CPU time so far; ok is false when it cannot be told apart
	// from the load generator's (kfake runs in this process).
	CPU() (d time.Duration, ok bool)
	// Profile writes a CPU profile of the next d to path; nil error and no file when the
	// target cannot be profiled on its own.
	Profile(ctx context.Context, d time.Duration, path string) error
	Close() error
}

// kfakeTarget is franz-go's fake cluster with one broker, keeping everything in memory.
type kfakeTarget struct{ c *kfake.Cluster }

func startKfake() (*kfakeTarget, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return &kfakeTarget{c: c}, nil
}

func (k *kfakeTarget) Name() string                                         { return "kfake" }
func (k *kfakeTarget) Addr() string                                         { return k.c.ListenAddrs()[0] }
func (k *kfakeTarget) CPU() (time.Duration, bool)                           { return 0, false }
func (k *kfakeTarget) Profile(context.Context, time.Duration, string) error { return nil }
func (k *kfakeTarget) Close() error                                         { k.c.Close(); return nil }

// chronikTarget is bin/chronik-node in its own process on free loopback ports and a data
// dir of its own, which Close removes.
type chronikTarget struct {
	name, dir, dataDir   string
	keep                 bool
	logPath              string
	kafkaAddr, debugAddr string
	cmd                  *exec.Cmd
	exited               chan error
	http                 *http.Client
}

// chronikOptions say how to run a node.
type chronikOptions struct {
	bin, workDir, flushPolicy string
	keep                      bool     // leave data and log behind
	env                       []string // added to the inherited environment
	set                       []string // more --set key=value
}

func startChronik(ctx context.Context, o chronikOptions) (*chronikTarget, error) {
	kafka, err := freePort()
	if err != nil {
		return nil, err
	}
	debug, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.workDir, "node-")
	if err != nil {
		return nil, fmt.Errorf("node dir: %w", err)
	}
	t := &chronikTarget{
		name: "chronik/fsync=" + o.flushPolicy, dir: dir, dataDir: dir + "/data", keep: o.keep, logPath: dir + "/node.log",
		kafkaAddr: kafka, debugAddr: debug, exited: make(chan error, 1),
		http: &http.Client{Timeout: 2 * time.Minute}, // profiles take their seconds
	}
	logFile, err := os.Create(t.logPath)
	if err != nil {
		return nil, fmt.Errorf("node log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	t.cmd = exec.Command(o.bin, "--data-dir", t.dataDir, "--listen", kafka, "--debug-listen", debug,
		"--log-level", "warn", "--set", "log.flush.policy="+o.flushPolicy)
	for _, kv := range o.set {
		t.cmd.Args = append(t.cmd.Args, "--set", kv)
	}
	t.cmd.Env = append(os.Environ(), o.env...)
	t.cmd.Stdout, t.cmd.Stderr = logFile, logFile
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.bin, err)
	}
	go func() { t.exited <- t.cmd.Wait() }()
	if err := t.waitHealthy(ctx); err != nil {
		_ = t.Close()
		return nil, err
	}
	return t, nil
}

func (t *chronikTarget) waitHealthy(ctx context.Context) error {
	for {
		resp, err := t.http.Get("http://" + t.debugAddr + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-t.exited:
			t.exited <- err // Close waits for it too
			return fmt.Errorf("node exited before it was ready (%v); log tail:\n%s", err, t.logTail())
		case <-ctx.Done():
			return fmt.Errorf("node not ready: %w; log tail:\n%s", ctx.Err(), t.logTail())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (t *chronikTarget) Name() string { return t.name }
func (t *chronikTarget) Addr() string { return t.kafkaAddr }

// CPU reads the node's user and system time, all threads, from /proc/PID/stat.
func (t *chronikTarget) CPU() (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may hold spaces; fields count from after it.
	// utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, true
}

// clockTicks is USER_HZ, the unit of /proc times: 100 on every Linux architecture Go
// supports (sysconf(_SC_CLK_TCK) would need cgo).
const clockTicks = 100

// Profile fetches /debug/pprof/profile for d from the node's debug listener.
func (t *chronikTarget) Profile(ctx context.Context, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.debugAddr, max(1, int(d.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("profile node: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile node: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile node: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile node: %w", err)
	}
	return f.Close()
}

// Close stops the node with SIGTERM (it syncs and exits 0) and removes its data and log
// unless asked to keep them.
func (t *chronikTarget) Close() error {
	if !t.keep {
		defer os.RemoveAll(t.dir)
	}
	if err := t.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal node: %w", err)
	}
	select {
	case err := <-t.exited:
		if err != nil {
			return fmt.Errorf("node shutdown: %w; log tail:\n%s", err, t.logTail())
		}
		return nil
	case <-time.After(2 * time.Minute):
		_ = t.cmd.Process.Kill()
		<-t.exited
		return errors.New("node did not stop within 2m of SIGTERM; killed")
	}
}

func (t *chronikTarget) logTail() string {
	data, err := os.ReadFile(t.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
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
