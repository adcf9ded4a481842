package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runKafkaJS runs a script of test/js against the node and decodes the JSON line it
// prints into out. It needs Node.js and `npm ci` in test/js (.ci/run does it); without
// them the test skips.
func runKafkaJS(t *testing.T, n *node, out any, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(kafkaJSNode(t), append([]string{script, n.kafkaAddr}, args...)...)
	cmd.Dir = "js"
	cmd.Env = append(os.Environ(), "KAFKAJS_NO_PARTITIONER_WARNING=1")
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kafkajs %s: %v\n%s\n%s", script, err, stdout, stderr)
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("kafkajs %s output %q: %v", script, stdout, err)
	}
}

// kafkaJSNode returns the node executable, skipping the test when Node.js or kafkajs is
// missing. Call it before starting a node, so a skipped test costs nothing.
func kafkaJSNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join("js", "node_modules", "kafkajs")); err != nil {
		t.Skip("kafkajs is not installed: run `npm ci` in test/js")
	}
	return node
}

// TestKafkaJS drives kafkajs (test/js/roundtrip.js) against the node: admin, idempotent
// produce with its codecs, a consumer group that commits, and a resume.
func TestKafkaJS(t *testing.T) {
	kafkaJSNode(t)
	n := startNode(t, "")
	var got struct{ Produced, Consumed, Distinct, Redelivered int }
	runKafkaJS(t, n, &got, "roundtrip.js", "kafkajs", "kafkajs-group")
	if got.Consumed != got.Produced || got.Distinct != got.Produced || got.Redelivered != 0 {
		t.Fatalf("kafkajs saw %+v: every record once, and nothing again after the commit", got)
	}
}

// TestKafkaJSLookupsByTime (test/js/timestamps.js): kafkajs stamps a batch's header with
// the newest timestamp its caller set, not with the later sending time its unstamped
// messages carry. The broker takes the max timestamp from the records, as Kafka does, so
// admin.fetchTopicOffsetsByTimestamp finds an unstamped message by its time (it used to
// skip to the next batch). deleteTopicRecords moves the low watermark.
func TestKafkaJSLookupsByTime(t *testing.T) {
	kafkaJSNode(t)
	n := startNode(t, "")
	var got struct {
		ByTime struct {
			Before, StampedOnly, AfterLater string
		}
		Low, High string
	}
	runKafkaJS(t, n, &got, "timestamps.js", "kafkajs-times")
	// Offsets: 0 stamped a minute ago, 1 unstamped (now), 2 stamped 30 s ahead.
	if got.ByTime.Before != "0" || got.ByTime.StampedOnly != "1" || got.ByTime.AfterLater != "3" {
		t.Fatalf("lookups by time found %+v, want 0, 1 (the unstamped message) and 3 (none: the high watermark)", got.ByTime)
	}
	if got.Low != "1" || got.High != "3" {
		t.Fatalf("after deleteTopicRecords up to 1: low %s high %s, want 1 and 3", got.Low, got.High)
	}
}
