package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/chronik/chronik-node/cmd/internal/nodeproc"
)

// kfakeServeCommand is the argument that makes this binary serve kfake and nothing else
// (see kfakeProcessTarget).
const kfakeServeCommand = "kfake-serve"

// serveKfake runs one kfake broker on addr until standard input closes: the parent holds
// the pipe, so the broker goes away with it.
func serveKfake(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("kfake address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("kfake port %q: %w", port, err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p))
	if err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	defer c.Close()
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// kfakeProcessTarget is the same kfake in a process of its own, as chronik-node is. In the
// load generator's process kfake's gigabytes of retained batches also set the garbage
// collector's pace for the client, which then collects rarely; here the client's process
// holds only the client, whichever broker it drives, and kfake's own CPU is measured.
type kfakeProcessTarget struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startKfakeProcess(ctx context.Context) (*kfakeProcessTarget, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("kfake process: %w", err)
	}
	addr, err := nodeproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, kfakeServeCommand, addr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("kfake process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kfake process: %w", err)
	}
	t := &kfakeProcessTarget{cmd: cmd, stdin: stdin, addr: addr}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return t, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, errors.Join(fmt.Errorf("kfake process not listening on %s: %w", addr, err), t.Close())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (k *kfakeProcessTarget) Name() string { return "kfake-process" }
func (k *kfakeProcessTarget) Addr() string { return k.addr }
func (k *kfakeProcessTarget) CPU() (time.Duration, bool) {
	return processCPU(k.cmd.Process.Pid)
}
func (k *kfakeProcessTarget) Profile(context.Context, time.Duration, string) error { return nil }

// Close closes the child's standard input, which ends it; a child that does not go is
// killed.
func (k *kfakeProcessTarget) Close() error {
	k.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- k.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("kfake process: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		k.cmd.Process.Kill()
		<-done
		return errors.New("kfake process did not exit within 30s; killed")
	}
}
