package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// An empty fetch carries an empty record set, never a null one: librdkafka (kcat, and the
// clients built on it) rejects null with "invalid MessageSetSize -1".
func TestFetchOfEmptyPartitionHasEmptyRecordSet(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	created, err := n.admin().CreateTopic(ctx, 1, 1, nil, "empty")
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []int16{4, 11, 12, 17} {
		versions := kversion.Stable()
		versions.SetMaxKeyVersion(1, version) // kgo sends the highest version both sides know
		cl := n.client(kgo.MaxVersions(versions))
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "empty", created.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if resp.Version != version || p.ErrorCode != 0 || p.RecordBatches == nil {
			t.Fatalf("Fetch v%d of an empty partition: error %d, record set nil=%v", version, p.ErrorCode, p.RecordBatches == nil)
		}
	}
}

// kcat (librdkafka) produces with every codec and reads back, if kcat is installed
// (.ci/run installs Debian's kcat).
func TestKcatRoundTrip(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	n := startNode(t, "")
	var want []string
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		var in bytes.Buffer
		for i := 0; i < 20; i++ {
			line := fmt.Sprintf("%s-%d", codec, i)
			want = append(want, line)
			in.WriteString(line + "\n")
		}
		cmd := exec.Command(kcat, "-b", n.kafkaAddr, "-t", "kcat", "-P", "-z", codec, "-X", "acks=all")
		cmd.Stdin = &in
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat produce (%s): %v\n%s", codec, err, out)
		}
	}
	out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-t", "kcat", "-C", "-o", "beginning", "-e", "-q", "-f", "%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat consume: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("kcat read back %v, want %v", got, want)
	}
	// A balanced consumer (librdkafka's consumer group) reads everything and commits; the
	// group's next consumer resumes after it.
	group := func() []string {
		out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-G", "kcat-group", "kcat", "-e", "-q", "-f", "%s\n", "-X", "auto.offset.reset=earliest").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat -G: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	if got := group(); len(got) != len(want) {
		t.Fatalf("kcat group consumer read %d records, want %d", len(got), len(want))
	}
	in := strings.NewReader("after-commit\n")
	cmd := exec.Command(kcat, "-b", n.kafkaAddr, "-t", "kcat", "-P")
	cmd.Stdin = in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, out)
	}
	if got := group(); strings.Join(got, ",") != "after-commit" {
		t.Fatalf("kcat group consumer resumed with %v, want only the new record", got)
	}
	meta, err := exec.Command(kcat, "-b", n.kafkaAddr, "-L", "-t", "kcat").CombinedOutput()
	if err != nil || !strings.Contains(string(meta), `topic "kcat" with 1 partitions`) {
		t.Fatalf("kcat -L: %v\n%s", err, meta)
	}
}

// librdkafka's idempotent producer (kcat -X enable.idempotence=true, acks=all) carries on
// through a kill -9 and restart of the node mid-stream: it resends what was in flight with
// the same sequence numbers, the restarted node recognises what it already has from the
// producer state it rebuilt, and every record is in the log exactly once, in order, with
// no fatal error on the client.
func TestKcatIdempotentProducerAcrossRestart(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	n := startNode(t, "")
	createTopic(t, n, "kcat-idem", 1, nil)
	const total = 100000
	input := filepath.Join(t.TempDir(), "records")
	var lines strings.Builder
	for i := range total {
		fmt.Fprintf(&lines, "r%d\n", i)
	}
	if err := os.WriteFile(input, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// Small batches and no linger keep the producer sending long enough to be cut off;
	// -E keeps kcat going when its only broker is down.
	cmd := exec.Command(kcat, "-b", n.kafkaAddr, "-t", "kcat-idem", "-P", "-E", "-l", input,
		"-X", "enable.idempotence=true", "-X", "acks=all", "-X", "batch.num.messages=20", "-X", "linger.ms=0",
		"-X", "message.timeout.ms=60000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	cl := n.rawClient()
	var atKill int64
	eventually(t, 30*time.Second, "kcat to produce a tenth of its records", func() bool {
		atKill = offsetOf(t, cl, "kcat-idem", 0, -1)
		return atKill >= total/10
	})
	n.restart()
	t.Logf("restarted the node with %d of %d records in the log", atKill, total)
	if atKill >= total {
		t.Fatalf("kcat had produced everything before the restart; nothing was in flight")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kcat: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("kcat still producing 60s after the restart\n%s", stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "Fatal") || strings.Contains(s, "Delivery failed") {
		t.Fatalf("kcat reported errors beyond the restart's disconnects:\n%s", s)
	}
	got := readPartition(t, n, "kcat-idem", 0, 0, total)
	for i, r := range got {
		if want := fmt.Sprintf("r%d", i); string(r.Value) != want {
			t.Fatalf("offset %d holds %q, want %q (restarted at offset %d)", r.Offset, r.Value, want, atKill)
		}
	}
	if end := offsetOf(t, n.rawClient(), "kcat-idem", 0, -1); end != total {
		t.Fatalf("log end %d after %d records sent once each", end, total)
	}
}

// A compacted topic takes no record without a key, as in Kafka: librdkafka gets
// INVALID_RECORD ("Broker failed to validate record") for a keyless message, compressed or not, and
// nothing of the refused batch is written. Keyed records go through.
func TestKcatCompactedTopicRefusesKeylessRecords(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	n := startNode(t, "")
	createTopic(t, n, "kcat-compacted", 1, map[string]string{"cleanup.policy": "compact,delete"})
	produce := func(input string, args ...string) (string, error) {
		cmd := exec.Command(kcat, append([]string{"-b", n.kafkaAddr, "-t", "kcat-compacted", "-P", "-X", "linger.ms=50"}, args...)...)
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := produce("k1:v1\nk2:v2\n", "-K:"); err != nil {
		t.Fatalf("keyed records: %v\n%s", err, out)
	}
	for _, codec := range []string{"none", "gzip"} {
		out, err := produce("k3:v3\nno-key\n", "-K:", "-z", codec)
		if err == nil || !strings.Contains(out, "Broker failed to validate record") {
			t.Fatalf("a batch with a keyless record (%s): %v\n%s\nwant INVALID_RECORD", codec, err, out)
		}
	}
	out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-t", "kcat-compacted", "-C", "-o", "beginning", "-e", "-q", "-f", "%k=%s\n").CombinedOutput()
	if err != nil || strings.Join(strings.Fields(string(out)), ",") != "k1=v1,k2=v2" {
		t.Fatalf("kcat read back %q (%v), want only the keyed records", out, err)
	}
}

// librdkafka's offsets by time and relative offsets: kcat -o s@<ms> starts at the first
// record stamped at or after it, -o e@<ms> stops before the first such record, -o -N
// starts N before the end (at the start when there are fewer), and -Q answers the
// offset for a time, the end (-1) and the start (-2), with -1 past every record.
func TestKcatOffsetsByTime(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed")
	}
	n := startNode(t, "")
	const topic = "kcat-times"
	createTopic(t, n, topic, 1, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(i int) int64 { return base.Add(time.Duration(i) * time.Second).UnixMilli() }
	cl := n.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.GzipCompression()))
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i), Timestamp: time.UnixMilli(at(i))})
	}
	produceAll(t, cl, recs) // one compressed batch: lookups land inside it
	consume := func(offsets ...string) string {
		args := []string{"-b", n.kafkaAddr, "-t", topic, "-C", "-e", "-q", "-f", "%o=%s@%T "}
		for _, o := range offsets {
			args = append(args, "-o", o)
		}
		out, err := exec.Command(kcat, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("kcat -o %v: %v\n%s", offsets, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	span := func(from, to int) string {
		var parts []string
		for i := from; i < to; i++ {
			parts = append(parts, fmt.Sprintf("%d=v%d@%d", i, i, at(i)))
		}
		return strings.Join(parts, " ")
	}
	for _, c := range []struct {
		offsets []string
		want    string
	}{
		{[]string{fmt.Sprintf("s@%d", at(3))}, span(3, 10)},
		{[]string{fmt.Sprintf("s@%d", at(3)-500)}, span(3, 10)},
		{[]string{fmt.Sprintf("s@%d", at(3)), fmt.Sprintf("e@%d", at(6))}, span(3, 6)},
		{[]string{"-3"}, span(7, 10)},
		{[]string{"-30"}, span(0, 10)},
	} {
		if got := consume(c.offsets...); got != c.want {
			t.Errorf("kcat -o %v read %q, want %q", c.offsets, got, c.want)
		}
	}
	for _, c := range []struct {
		ts   int64
		want string
	}{{at(4), "4"}, {at(4) - 1, "4"}, {at(9) + 1, "-1"}, {-1, "10"}, {-2, "0"}} {
		out, err := exec.Command(kcat, "-b", n.kafkaAddr, "-Q", "-t", fmt.Sprintf("%s:0:%d", topic, c.ts)).CombinedOutput()
		if want := fmt.Sprintf("%s [0] offset %s", topic, c.want); err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("kcat -Q at %d: %v %q, want %q", c.ts, err, out, want)
		}
	}
}
