package test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The client-fault tests (clientfaults_test.go) drive clients other than kgo while the
// node is killed, restarted or frozen. Every client reports what its application saw as
// event lines of space-separated words, in the order it saw them: "ack <partition>
// <offset> <value>" and "fail <value> <error>" from producers; "msg <member> <partition>
// <offset> <value>", "commit <member> <partition> <offset>" (a commit the broker
// acknowledged) and "assign <member> <partitions>" from consumer groups; anything else is
// an error or a note the test judges by client. External clients (test/js, test/py) print
// the lines; Sarama, in this process, adds them directly.

// eventLog is one client's events in the order they happened.
type eventLog struct {
	mu     sync.Mutex
	events [][]string
	counts map[string]int
}

// newEventLog returns an empty log whose notable events the test prints if it fails.
func newEventLog(t *testing.T) *eventLog {
	l := &eventLog{counts: map[string]int{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("client events %s; notable ones:", describeEvents(l))
			for _, e := range l.of("assign", "revoke", "crash", "error", "commit-error", "fail", "timeout", "lost", "note") {
				t.Logf("event %v", e)
			}
		}
	})
	return l
}

func (l *eventLog) add(words ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, words)
	l.counts[words[0]]++
}

// count is how many events of a kind there have been.
func (l *eventLog) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[kind]
}

func (l *eventLog) all() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// of returns the events of the given kinds.
func (l *eventLog) of(kinds ...string) [][]string {
	var out [][]string
	for _, e := range l.all() {
		if slices.Contains(kinds, e[0]) {
			out = append(out, e)
		}
	}
	return out
}

// clientProc is an external client process whose stdout lines are events; closing its
// stdin tells it to finish.
type clientProc struct {
	*eventLog
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	exited chan error
}

// startClientProc starts name with args in dir; its stdout feeds the event log.
func startClientProc(t *testing.T, dir, name string, args ...string) *clientProc {
	t.Helper()
	p := &clientProc{eventLog: newEventLog(t), exited: make(chan error, 1)}
	p.cmd = exec.Command(name, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "KAFKAJS_NO_PARTITIONER_WARNING=1")
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if words := strings.Fields(sc.Text()); len(words) > 0 {
				p.add(words...)
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("%s stderr (tail):\n%s", name, tail(p.stderr.String(), 3000))
		}
	})
	return p
}

// finish closes the client's stdin and waits for it to say "done" and exit 0.
func (p *clientProc) finish(t *testing.T, timeout time.Duration) {
	t.Helper()
	p.stdin.Close()
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("client exited with %v\n%s", err, tail(p.stderr.String(), 3000))
		}
	case <-time.After(timeout):
		t.Fatalf("client still running %v after it was told to finish", timeout)
	}
	if p.count("done") != 1 {
		t.Fatalf("client exited without finishing (%d done lines)", p.count("done"))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitEvents waits until the log has at least want events of kind.
func waitEvents(t *testing.T, l *eventLog, kind string, want int, what string) {
	t.Helper()
	eventually(t, 60*time.Second, what, func() bool { return l.count(kind) >= want })
}

func atoi64(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad number %q in a client event: %v", s, err)
	}
	return v
}

// checkProduced judges a producer's events against the topic's logs: no record failed;
// every acknowledged record is in the log at the offset it was acknowledged at; no record
// is in a log twice; each partition holds its records in the order they were sent
// ("r%07d", numbered in send order). Records in the log that were never acknowledged are
// allowed only when the client died before hearing back, which these tests do not do.
func checkProduced(t *testing.T, n *node, l *eventLog, topic string, partitions int32) {
	t.Helper()
	if fails := l.of("fail"); len(fails) > 0 {
		t.Fatalf("%d records failed, first: %v", len(fails), fails[0])
	}
	acked := map[string][2]int64{} // value -> partition, offset
	for _, e := range l.of("ack") {
		if _, dup := acked[e[3]]; dup {
			t.Fatalf("record %s acknowledged twice", e[3])
		}
		acked[e[3]] = [2]int64{atoi64(t, e[1]), atoi64(t, e[2])}
	}
	cl := n.rawClient()
	inLogs := 0
	for p := range partitions {
		recs := readPartition(t, n, topic, p, 0, offsetOf(t, cl, topic, p, -1))
		last := -1
		for _, r := range recs {
			v := string(r.Value)
			at, ok := acked[v]
			if !ok {
				t.Fatalf("%s/%d offset %d holds %s, which was never acknowledged", topic, p, r.Offset, v)
			}
			if at != [2]int64{int64(p), r.Offset} {
				t.Fatalf("%s/%d offset %d holds %s, acknowledged at partition %d offset %d (a retry written twice, or moved)", topic, p, r.Offset, v, at[0], at[1])
			}
			num, _ := strconv.Atoi(strings.TrimPrefix(v, "r"))
			if num <= last {
				t.Fatalf("%s/%d offset %d holds record %d after record %d: out of send order", topic, p, r.Offset, num, last)
			}
			last = num
			inLogs++
		}
	}
	if inLogs != len(acked) {
		t.Fatalf("%d records acknowledged, %d in the logs", len(acked), inLogs)
	}
}

// checkConsumed judges a consumer group's events against the topic: every record below
// the high watermarks was delivered (nothing skipped), each with the value the log holds,
// and a record delivered again was at or past the partition's last acknowledged commit
// when it came again (a commit the broker acknowledged was not lost). It returns how many
// records were delivered more than once.
func checkConsumed(t *testing.T, n *node, l *eventLog, topic string, partitions int32) (redelivered int) {
	t.Helper()
	cl := n.rawClient()
	type key struct {
		p   int32
		off int64
	}
	committed := map[int32]int64{}
	seen := map[key]string{}
	for _, e := range l.all() {
		switch e[0] {
		case "commit":
			p, off := int32(atoi64(t, e[2])), atoi64(t, e[3])
			committed[p] = max(committed[p], off)
		case "msg":
			k := key{int32(atoi64(t, e[2])), atoi64(t, e[3])}
			if v, again := seen[k]; again {
				if v != e[4] {
					t.Fatalf("%s/%d offset %d delivered as %s, earlier as %s", topic, k.p, k.off, e[4], v)
				}
				if k.off < committed[k.p] {
					t.Fatalf("%s/%d offset %d delivered again to %s after a commit of %d was acknowledged", topic, k.p, k.off, e[1], committed[k.p])
				}
				redelivered++
			}
			seen[k] = e[4]
		}
	}
	for p := range partitions {
		end := offsetOf(t, cl, topic, p, -1)
		recs := readPartition(t, n, topic, p, 0, end)
		for _, r := range recs {
			v, ok := seen[key{p, r.Offset}]
			if !ok {
				t.Fatalf("%s/%d offset %d (of %d) was never delivered to the group", topic, p, r.Offset, end)
			}
			if v != string(r.Value) {
				t.Fatalf("%s/%d offset %d delivered as %s, the log holds %s", topic, p, r.Offset, v, r.Value)
			}
		}
	}
	return redelivered
}

// consumedAll reports whether the group's events include every offset below each
// partition's high watermark.
func consumedAll(t *testing.T, cl kmsg.Requestor, l *eventLog, topic string, partitions int32) bool {
	next := map[int32]int64{}
	for _, e := range l.of("msg") {
		p, off := int32(atoi64(t, e[2])), atoi64(t, e[3])
		next[p] = max(next[p], off+1)
	}
	for p := range partitions {
		if next[p] < offsetOf(t, cl, topic, p, -1) {
			return false
		}
	}
	return true
}

func describeEvents(l *eventLog) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.counts)
}
