package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEmptyFlagsApply: a flag given empty applies like any other. --debug-listen "" was
// taken for "not given", so the debug listener could not be turned off from the command
// line, only with --set debug.listener= or in the file.
func TestEmptyFlagsApply(t *testing.T) {
	file := filepath.Join(t.TempDir(), "node.toml")
	if err := os.WriteFile(file, []byte("debug.listener = \"127.0.0.1:19644\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig([]string{"--config", file, "--debug-listen", ""})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if c.DebugListener != "" {
		t.Errorf("--debug-listen \"\": debug listener %q, want off", c.DebugListener)
	}
	c, err = loadConfig([]string{"--config", file, "--listen", "127.0.0.1:19999", "--node-id", "3"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if c.DebugListener != "127.0.0.1:19644" || c.Listener != "127.0.0.1:19999" || c.NodeID != 3 {
		t.Errorf("flags over the file: debug %q listener %q node %d", c.DebugListener, c.Listener, c.NodeID)
	}
	if _, err := loadConfig([]string{"--listen", ""}); err == nil {
		t.Error(`--listen "": want an error naming listeners, got none`)
	}
}
