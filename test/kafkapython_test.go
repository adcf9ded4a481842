package test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
)

// kafkaPython returns a Python interpreter that has kafka-python (Debian's python3-kafka,
// which .ci/run installs), skipping the test when there is none.
func kafkaPython(t *testing.T) string {
	t.Helper()
	return pythonWith(t, "kafka", "kafka-python (Debian package python3-kafka)")
}

// pythonWith returns a Python interpreter that can import module, skipping the test when
// there is none. It checks the system interpreter first: a python3 earlier on PATH
// (pyenv's, say) may not see Debian's packages.
func pythonWith(t *testing.T, module, what string) string {
	t.Helper()
	for _, candidate := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(candidate)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import "+module).Run() == nil {
			return path
		}
	}
	t.Skipf("no python3 with %s", what)
	return ""
}

// runPython runs a script of test/py against the node with args and decodes the JSON
// line it prints into out.
func runPython(t *testing.T, python string, n *node, out any, script string, args ...string) {
	t.Helper()
	stdout, err := exec.Command(python, append([]string{script, n.kafkaAddr}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("python %s: %v\n%s\n%s", script, err, stdout, stderr)
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("python %s output %q: %v", script, stdout, err)
	}
}

// TestKafkaPython drives kafka-python, a client with its own implementation of the
// protocol (test/py/roundtrip.py): topic creation, acks=all produce with every codec it
// has modules for (its snappy is the Java client's xerial framing; it reads zstd through
// Fetch v4, as from Kafka) with keys and headers, a consumer group that commits and
// resumes, lookups by time and of the log's ends.
func TestKafkaPython(t *testing.T) {
	python := kafkaPython(t)
	n := startNode(t, "")
	var got struct {
		Codecs                                   []string
		MissingCodecs                            []string `json:"missing_codecs"`
		Produced, Consumed, Distinct, Mismatched int
		Resumed                                  []string
		FirstByTime                              int `json:"first_by_time"`
		EndTotal                                 int `json:"end_total"`
		BeginTotal                               int `json:"begin_total"`
	}
	runPython(t, python, n, &got, "py/roundtrip.py", "kafka-python", "kafka-python-group")
	if len(got.MissingCodecs) > 0 {
		t.Logf("kafka-python lacks the modules for %v (Debian's python3-snappy, python3-lz4, python3-zstandard); produced with %v", got.MissingCodecs, got.Codecs)
	}
	if got.Produced != 500*len(got.Codecs) || len(got.Codecs) < 2 || got.Consumed != got.Produced || got.Distinct != got.Produced || got.Mismatched != 0 {
		t.Errorf("kafka-python produced %d, consumed %d (%d distinct), %d not as produced (key, value, headers, partition, offset)",
			got.Produced, got.Consumed, got.Distinct, got.Mismatched)
	}
	if !slices.Equal(got.Resumed, []string{"after-commit"}) {
		t.Errorf("the group resumed with %v, want only the record produced after its commit", got.Resumed)
	}
	if got.FirstByTime != 3 || got.EndTotal != got.Produced+1 || got.BeginTotal != 0 {
		t.Errorf("lookups: %d of 3 partitions found offset 0 by the start time, end offsets sum %d (want %d), beginning %d (want 0)",
			got.FirstByTime, got.EndTotal, got.Produced+1, got.BeginTotal)
	}
}

// TestKafkaPythonAdmin drives kafka-python's admin client (test/py/admin.py), which speaks
// old versions of the admin APIs: topic creation with a config, DescribeConfigs and
// AlterConfigs of it, CreatePartitions, a consumer group listed, described, its offsets
// fetched and the group deleted, and the topic deleted.
func TestKafkaPythonAdmin(t *testing.T) {
	python := kafkaPython(t)
	n := startNode(t, "")
	var got struct {
		CreateErrors           []int    `json:"create_errors"`
		Listed                 bool     `json:"listed"`
		RetentionAtCreate      string   `json:"retention_at_create"`
		AlterErrors            []int    `json:"alter_errors"`
		RetentionAfterAlter    string   `json:"retention_after_alter"`
		CreatePartitionsErrors []int    `json:"create_partitions_errors"`
		Partitions             int      `json:"partitions"`
		Consumed               int      `json:"consumed"`
		Groups                 []string `json:"groups"`
		GroupState             string   `json:"group_state"`
		GroupMembers           int      `json:"group_members"`
		Committed              []int64  `json:"committed"`
		DeleteGroup            []string `json:"delete_group"`
		DeleteTopicErrors      []int    `json:"delete_topic_errors"`
		ListedAfterDelete      bool     `json:"listed_after_delete"`
	}
	runPython(t, python, n, &got, "py/admin.py", "kp-admin", "kp-admin-group")
	want := []struct {
		what string
		ok   bool
	}{
		{"topic created and listed", slices.Equal(got.CreateErrors, []int{0}) && got.Listed},
		{"retention.ms as created, then as altered", got.RetentionAtCreate == "3600000" && slices.Equal(got.AlterErrors, []int{0}) && got.RetentionAfterAlter == "7200000"},
		{"grown to 4 partitions", slices.Equal(got.CreatePartitionsErrors, []int{0}) && got.Partitions == 4},
		{"10 records consumed by the group", got.Consumed == 10},
		{"the group listed and described, stable with its member", slices.Contains(got.Groups, "kp-admin-group") && got.GroupState == "Stable" && got.GroupMembers == 1},
		{"its committed offsets 1..4", slices.Equal(got.Committed, []int64{1, 2, 3, 4})},
		{"group and topic deleted", slices.Equal(got.DeleteGroup, []string{"NoError"}) && slices.Equal(got.DeleteTopicErrors, []int{0}) && !got.ListedAfterDelete},
	}
	for _, w := range want {
		if !w.ok {
			t.Errorf("kafka-python admin: %s: no; saw %+v", w.what, got)
		}
	}
}
