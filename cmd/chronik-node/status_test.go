package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeDebug serves the debug JSON a node would, with /debug/groups as given ("" = 404).
func fakeDebug(t *testing.T, groups string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/raft", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"node_id": 4, "term": 7, "leader": 4, "state": "StateLeader", "commit_index": 12, "applied_index": 12, "storage_mode": "memory", "metadata_disk_full": true}`)
	})
	mux.HandleFunc("/debug/actors", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"actors": [
			{"id": "node/partitions/a-0", "kind": "partition", "mailbox_depth": 3, "messages_per_second": 10},
			{"id": "node/partitions/a-1", "kind": "partition", "mailbox_depth": 9, "messages_per_second": 2},
			{"id": "node/applier", "kind": "applier", "restarts": 2, "last_panic": "disk full\nmore", "last_panic_at": "2030-01-02T03:04:05Z"}]}`)
	})
	mux.HandleFunc("/debug/partitions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"partitions": [
			{"topic": "a", "partition": 0, "leader": true, "open": true, "size_bytes": 2048, "replicas": [4, 5], "isr": [4]},
			{"topic": "a", "partition": 1, "leader": false, "open": false, "size_bytes": 0, "replicas": [5, 4], "isr": [5, 4], "writes_fenced": "sync: input/output error"}]}`)
	})
	if groups != "" {
		mux.HandleFunc("/debug/groups", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, groups) })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestStatusPrintsSummary(t *testing.T) {
	addr := fakeDebug(t, "")
	var out, errOut bytes.Buffer
	if code := statusCommand([]string{"--addr", addr, "--top", "2"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"chronik-node 4 at " + addr,
		"StateLeader, term 7, leader 4, commit 12, applied 12",
		"storage memory",
		"2 (1 led here, 1 open, 1 under-replicated), 2.0 KiB on disk",
		"METADATA DISK FULL: metadata changes are refused until there is space",
		"1 FENCED: an fsync of their log failed; they take no writes until the broker restarts",
		"3 live, 12.0 msg/s, 2 restarts",
		"groups      not available on this node",
		"node/applier: 2 restarts, last at 2030-01-02T03:04:05Z: disk full …",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	// The deepest mailbox comes first and --top limits the list.
	lines := strings.Split(text, "\n")
	var listed []string
	for _, l := range lines {
		if strings.Contains(l, "node/partitions/") || strings.HasSuffix(l, " node/applier") {
			listed = append(listed, strings.Fields(l)[3])
		}
	}
	if len(listed) != 2 || listed[0] != "node/partitions/a-1" || listed[1] != "node/partitions/a-0" {
		t.Errorf("busiest actors %v, want a-1 (9 queued) then a-0 (3 queued)", listed)
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestStatusReadsEitherGroupsShape(t *testing.T) {
	for name, body := range map[string]string{
		"list":   `[{"group": "g1", "state": "Stable"}, {"group": "g2", "state": "Empty"}, {"group": "g3", "state": "Stable"}]`,
		"object": `{"time": "2030-01-01T00:00:00Z", "groups": [{"group": "g1", "state": "Stable"}, {"group": "g2", "state": "Empty"}, {"group": "g3", "state": "Stable"}]}`,
	} {
		var out, errOut bytes.Buffer
		if code := statusCommand([]string{"--addr", fakeDebug(t, body)}, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut.String())
		}
		if !strings.Contains(out.String(), "groups      3 (Empty 1, Stable 2)") {
			t.Errorf("%s: groups line missing:\n%s", name, out.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := statusCommand([]string{"--addr", fakeDebug(t, `"not groups"`)}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "/debug/groups") {
		t.Errorf("a malformed /debug/groups: exit %d, %q", code, errOut.String())
	}
}

func TestStatusRejectsConflictingFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := statusCommand([]string{"--addr", "127.0.0.1:1", "--config", "x.toml"}, &out, &errOut); code != 2 {
		t.Errorf("--addr with --config: exit %d", code)
	}
	if dialable("0.0.0.0:9644") != "127.0.0.1:9644" || dialable("[::]:9644") != "127.0.0.1:9644" || dialable("10.0.0.5:9644") != "10.0.0.5:9644" {
		t.Error("wildcard listen addresses are not turned into loopback")
	}
}
