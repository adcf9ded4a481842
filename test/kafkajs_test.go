package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestKafkaJS drives kafkajs (test/js/roundtrip.js) against the node: admin, idempotent
// produce with its codecs, a consumer group that commits, and a resume. It needs Node.js
// and `npm ci` in test/js (.ci/run does it); without them it skips.
func TestKafkaJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join("js", "node_modules", "kafkajs")); err != nil {
		t.Skip("kafkajs is not installed: run `npm ci` in test/js")
	}
	n := startNode(t, "")
	cmd := exec.Command(node, "roundtrip.js", n.kafkaAddr, "kafkajs", "kafkajs-group")
	cmd.Dir = "js"
	cmd.Env = append(os.Environ(), "KAFKAJS_NO_PARTITIONER_WARNING=1")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kafkajs: %v\n%s\n%s", err, out, stderr)
	}
	var got struct{ Produced, Consumed, Distinct, Redelivered int }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("kafkajs output %q: %v", out, err)
	}
	if got.Consumed != got.Produced || got.Distinct != got.Produced || got.Redelivered != 0 {
		t.Fatalf("kafkajs saw %+v: every record once, and nothing again after the commit", got)
	}
}
