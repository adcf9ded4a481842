package test

import (
	"bytes"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runStatus runs `chronik-node status args...` and returns stdout, stderr and the exit
// code.
func runStatus(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(chronikBin, append([]string{"status"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestStatusSummarisesARunningNode(t *testing.T) {
	n := startNode(t, "")
	if _, err := n.admin().CreateTopic(testContext(t), 3, 1, nil, "summary"); err != nil {
		t.Fatal(err)
	}
	produceAll(t, n.client(kgo.DefaultProduceTopic("summary")), []*kgo.Record{{Value: []byte("a")}, {Value: []byte("b")}})

	out, stderr, code := runStatus(t, "--addr", n.debugAddr)
	if code != 0 {
		t.Fatalf("status exited %d: %s", code, stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^chronik-node 1 at ` + regexp.QuoteMeta(n.debugAddr) + `$`),
		regexp.MustCompile(`(?m)^raft\s+StateLeader, term [1-9]\d*, leader 1, commit \d+, applied \d+$`),
		regexp.MustCompile(`(?m)storage bbolt, snapshot at \d+, log \d+ entries`),
		// kgo's sticky partitioner puts both records in one partition; the other two
		// partitions' actors start on first use.
		regexp.MustCompile(`(?m)^partitions\s+3 \(3 led here, [1-3] open, 0 under-replicated\), [1-9][\d.]* (B|KiB) on disk$`),
		regexp.MustCompile(`(?m)^actors\s+\d+ live, [\d.]+ msg/s, 0 restarts$`),
		regexp.MustCompile(`(?m)^groups\s+`),
		regexp.MustCompile(`(?m)^\s+mailbox\s+msg/s\s+restarts\s+actor$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("status output lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("status output:\n%s", out)
	}

	// The same node found through its config file.
	out2, stderr, code := runStatus(t, "--config", n.config)
	if code != 0 || !strings.Contains(out2, "chronik-node 1 at "+n.debugAddr) {
		t.Fatalf("status --config %s: exit %d\n%s%s", n.config, code, out2, stderr)
	}
}

func TestStatusFailsWhenTheNodeIsUnreachable(t *testing.T) {
	addr := freeAddr(t) // nothing listens there
	out, stderr, code := runStatus(t, "--addr", addr)
	if code == 0 {
		t.Fatalf("status of an unreachable node exited 0:\n%s", out)
	}
	if !strings.Contains(stderr, addr) || !strings.Contains(stderr, "unreachable") {
		t.Fatalf("status error does not say which node is unreachable: %q", stderr)
	}
	if out != "" {
		t.Fatalf("status printed a summary for an unreachable node: %q", out)
	}
	if _, stderr, code := runStatus(t, "extra"); code != 2 || stderr == "" {
		t.Fatalf("status with a stray argument: exit %d, %q", code, stderr)
	}
}
