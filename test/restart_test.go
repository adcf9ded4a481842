package test

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicState is what must survive a restart: partition count, id and config overrides.
type topicState struct {
	partitions int
	id         kadm.TopicID
	configs    map[string]string
}

func snapshotTopics(t *testing.T, n *node) map[string]topicState {
	t.Helper()
	ctx := testContext(t)
	adm := n.admin()
	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]topicState{}
	names := details.Names()
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		out[name] = topicState{partitions: len(details[name].Partitions), id: details[name].ID, configs: map[string]string{}}
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
				out[rc.Name].configs[c.Key] = *c.Value
			}
		}
	}
	return out
}

func createSomeTopics(t *testing.T, n *node, count int) {
	t.Helper()
	ctx := testContext(t)
	adm := n.admin()
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("topic-%03d", i)
		cfg := map[string]*string{"retention.ms": strp(fmt.Sprint(60000 + i))}
		if r, err := adm.CreateTopic(ctx, int32(1+i%5), 1, cfg, name); err != nil || r.Err != nil {
			t.Fatalf("create %s: %v %v", name, err, r.Err)
		}
	}
	// Change a few after creation so the restart must replay alterations too.
	if _, err := adm.UpdatePartitions(ctx, 7, "topic-000"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: strp("compact")}}, "topic-001"); err != nil {
		t.Fatal(err)
	}
}

func sameTopics(t *testing.T, before, after map[string]topicState) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("%d topics before restart, %d after", len(before), len(after))
	}
	for name, b := range before {
		a, ok := after[name]
		if !ok || a.partitions != b.partitions || a.id != b.id || fmt.Sprint(a.configs) != fmt.Sprint(b.configs) {
			t.Fatalf("topic %s before restart %+v, after %+v", name, b, a)
		}
	}
}

func TestKillAndRestartKeepsMetadata(t *testing.T) {
	for _, mode := range []string{"bbolt", "memory"} {
		t.Run(mode, func(t *testing.T) {
			n := startNode(t, nodeConfig(fmt.Sprintf("raft.storage = %q", mode)))
			createSomeTopics(t, n, 20)
			before := snapshotTopics(t, n)
			term := n.raft().Term

			n.restart() // kill -9
			sameTopics(t, before, snapshotTopics(t, n))
			st := n.raft()
			if st.StorageMode != mode {
				t.Fatalf("storage mode %q", st.StorageMode)
			}
			if mode == "memory" {
				// Memory mode loses the Raft log; Bootstrap rebuilds it from the metadata store.
				if st.Bootstrap.Mode != "metastore" || st.Bootstrap.Index == 0 {
					t.Fatalf("memory restart did not bootstrap from the metastore: %+v", st.Bootstrap)
				}
				if !n.logsSoonContain("bootstrap: raft rebuilt from the metadata store", `"mode":"metastore"`) {
					t.Fatal("no bootstrap line in the log")
				}
			} else if st.Bootstrap.Mode != "none" || st.Term <= term {
				t.Fatalf("bbolt restart: bootstrap %+v, term %d after %d", st.Bootstrap, st.Term, term)
			}
			// The restarted node takes new changes.
			createSomeTopics(t, n, 0)
			if _, err := n.admin().CreateTopic(testContext(t), 2, 1, nil, "after-restart"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCompactedRaftLogRestores(t *testing.T) {
	n := startNode(t, "raft.snapshot_entries = 25")
	createSomeTopics(t, n, 80)
	before := snapshotTopics(t, n)
	eventually(t, 10*time.Second, "a raft snapshot that compacts the log", func() bool {
		st := n.raft()
		return st.SnapshotIndex > 50 && st.FirstIndex > 25
	})
	st := n.raft()
	if st.LogEntries >= st.LastIndex {
		t.Fatalf("log not compacted: %+v", st)
	}
	n.restart()
	sameTopics(t, before, snapshotTopics(t, n))
}

func TestCleanShutdownExitsZero(t *testing.T) {
	n := startNode(t, "")
	createSomeTopics(t, n, 3)
	before := snapshotTopics(t, n)
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM exit: %v", err)
	}
	if !n.logsContain("shutdown complete") {
		t.Fatal("no shutdown log line")
	}
	n.start()
	sameTopics(t, before, snapshotTopics(t, n))
}

func TestGarbageClosesOnlyThatConnection(t *testing.T) {
	n := startNode(t, "")
	adm := n.admin()
	ctx := testContext(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "still-here"); err != nil {
		t.Fatal(err)
	}
	for _, garbage := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),      // a size of ~1.2 GB: refused before allocation
		{0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, // negative api key
		{0, 0, 0, 3, 0, 1, 0},                            // frame shorter than a header
	} {
		c, err := net.Dial("tcp", n.kafkaAddr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(garbage); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		if _, err := c.Read(buf); err == nil {
			t.Fatalf("garbage %q got an answer instead of a closed connection", garbage)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("garbage %q: connection left open", garbage)
		}
		c.Close()
	}
	// Everything else keeps serving.
	if names := n.topicNames(ctx); len(names) != 1 || names[0] != "still-here" {
		t.Fatalf("topics after garbage: %v", names)
	}
}

func TestActorPanicKeepsServing(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	adm := n.admin()
	for _, id := range []string{"node/applier", "node/raft-loop", "node/raft-storage", "node/proposer"} {
		resp, err := http.Post("http://"+n.debugAddr+"/debug/panic?actor="+id, "text/plain", nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("inject panic into %s: %v %v", id, err, resp)
		}
		resp.Body.Close()
		eventually(t, 10*time.Second, id+" restarted", func() bool { return restarts(t, n, id) == 1 })
		name := "after-panic-in-" + id[len("node/"):]
		eventually(t, 20*time.Second, "a topic created after "+id+" restarted", func() bool {
			r, err := adm.CreateTopic(ctx, 1, 1, nil, name)
			return err == nil && r.Err == nil
		})
	}
	if !n.logsSoonContain("actor panicked; restarting it from durable state", "injected panic") {
		t.Fatal("panic not logged")
	}
}

// restarts reads an actor's restart count from /debug/actors.
func restarts(t *testing.T, n *node, id string) uint64 {
	var out struct {
		Actors []struct {
			ID       string `json:"id"`
			Restarts uint64 `json:"restarts"`
			Posted   uint64 `json:"messages_posted"`
		} `json:"actors"`
	}
	n.debugJSON("/debug/actors", &out)
	for _, a := range out.Actors {
		if a.ID == id {
			return a.Restarts
		}
	}
	t.Fatalf("actor %s not listed", id)
	return 0
}
