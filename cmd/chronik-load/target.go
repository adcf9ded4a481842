package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chronik/chronik-node/cmd/internal/nodeproc"
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
	*nodeproc.Process
	name, dir string
	keep      bool
	http      *http.Client
}

// chronikOptions say how to run a node.
type chronikOptions struct {
	bin, workDir, flushPolicy string
	keep                      bool     // leave data and log behind
	env                       []string // added to the inherited environment
	set                       []string // more --set key=value
}

func startChronik(ctx context.Context, o chronikOptions) (*chronikTarget, error) {
	dir, err := os.MkdirTemp(o.workDir, "node-")
	if err != nil {
		return nil, fmt.Errorf("node dir: %w", err)
	}
	p, err := nodeproc.New(o.bin, dir)
	if err != nil {
		return nil, err
	}
	t := &chronikTarget{
		Process: p, name: "chronik/fsync=" + o.flushPolicy, dir: dir, keep: o.keep,
		http: &http.Client{Timeout: 2 * time.Minute}, // profiles take their seconds
	}
	args := []string{"--log-level", "warn", "--set", "log.flush.policy=" + o.flushPolicy}
	for _, kv := range o.set {
		args = append(args, "--set", kv)
	}
	if _, err := p.Start(ctx, o.env, args...); err != nil {
		if !o.keep {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	return t, nil
}

func (t *chronikTarget) Name() string { return t.name }
func (t *chronikTarget) Addr() string { return t.KafkaAddr }

// CPU reads the node's user and system time.
func (t *chronikTarget) CPU() (time.Duration, bool) { return processCPU(t.Pid()) }

// processCPU reads a process's user and system time, all threads, from /proc/PID/stat.
func processCPU(pid int) (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
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
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.DebugAddr, max(1, int(d.Seconds())))
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
	return t.Stop(2 * time.Minute)
}
