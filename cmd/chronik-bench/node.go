package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/chronik/chronik-node/cmd/internal/nodeproc"
)

// node is bin/chronik-node as a child process on fixed loopback ports and a data dir that
// survive restarts.
type node struct {
	*nodeproc.Process
	http *http.Client
}

func newNode(bin, workDir string) (*node, error) {
	p, err := nodeproc.New(bin, workDir)
	if err != nil {
		return nil, err
	}
	return &node{Process: p, http: &http.Client{Timeout: 2 * time.Second}}, nil
}

// start launches the node with the given Raft storage mode and returns how long it took
// from launching the process until /healthz answered 200: restart-to-ready as an operator
// sees it (process start, opening the stores, Bootstrap, Raft leader, registration,
// listeners).
func (n *node) start(ctx context.Context, raftStorage string) (time.Duration, error) {
	return n.Start(ctx, nil, "--raft-storage", raftStorage, "--log-level", "warn")
}

// stop sends SIGTERM and waits for a clean exit (status 0).
func (n *node) stop() error { return n.Stop(60 * time.Second) }

// raftStatus is the part of /debug/raft the benchmark checks.
type raftStatus struct {
	StorageMode string `json:"storage_mode"`
	Bootstrap   struct {
		Mode string `json:"mode"`
	} `json:"bootstrap"`
}

func (n *node) raftStatus() (raftStatus, error) {
	var st raftStatus
	resp, err := n.http.Get("http://" + n.DebugAddr + "/debug/raft")
	if err != nil {
		return st, fmt.Errorf("get /debug/raft: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decode /debug/raft: %w", err)
	}
	return st, nil
}
