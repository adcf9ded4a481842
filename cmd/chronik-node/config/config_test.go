package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaults(t *testing.T) {
	c := Default()
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.NodeID != 1 || c.Listener != "127.0.0.1:9092" || c.AdvertisedListener != "127.0.0.1:9092" ||
		c.DataDir != "./data" || c.DebugListener != "127.0.0.1:9644" || c.RaftStorage != "bbolt" ||
		c.MaxRequestBytes != 100<<20 || c.NumPartitions != 1 || !c.AutoCreateTopics || c.RetentionMs != 7*24*time.Hour {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestLoadDottedQuotedAndSectionKeys(t *testing.T) {
	path := writeFile(t, `
num.partitions = 3
"auto.create.topics.enable" = false
log.retention.ms = -1
[raft]
storage = "memory"
tick_interval = "50ms"
[node]
id = 7
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.NumPartitions != 3 || c.AutoCreateTopics || c.RetentionMs >= 0 || c.RaftStorage != "memory" || c.RaftTick != 50*time.Millisecond || c.NodeID != 7 {
		t.Fatalf("loaded %+v", c)
	}
}

func TestLoadErrorsNameKeyAndFile(t *testing.T) {
	cases := []struct {
		name, text, key, want string
	}{
		{"unknown key", "num.partitons = 3", "num.partitons", "unknown key"},
		{"unknown section key", "[raft]\nstorag = \"memory\"", "raft.storag", "unknown key"},
		{"wrong type", `num.partitions = "three"`, "num.partitions", "want integer, got a string"},
		{"float for int", `num.partitions = 1.5`, "num.partitions", "got a float"},
		{"out of range", `num.partitions = 0`, "num.partitions", "outside"},
		{"bad enum", `raft.storage = "rocksdb"`, "raft.storage", "not one of bbolt, memory"},
		{"bad duration", `raft.tick_interval = "soon"`, "raft.tick_interval", "duration"},
		{"bad address", `listeners = "nowhere"`, "listeners", "not host:port"},
		{"unroutable advertised", `listeners = "0.0.0.0:9092"`, "advertised.listeners", "not an address clients can connect to"},
		{"relation", "group.min.session.timeout.ms = 10\ngroup.max.session.timeout.ms = 5", "group.min.session.timeout.ms", "above"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.text)
			_, err := Load(path)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a config error", err)
			}
			msg := err.Error()
			if ce.Key != tc.key || !strings.Contains(msg, path) || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q: want key %q, file %s and %q", msg, tc.key, path, tc.want)
			}
		})
	}
}

func TestSyntaxErrorNamesFile(t *testing.T) {
	path := writeFile(t, "num.partitions = = 3")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("syntax error %v does not name the file", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestSuggestsCloseKey(t *testing.T) {
	_, err := Load(writeFile(t, "num.partitons = 3"))
	if err == nil || !strings.Contains(err.Error(), `did you mean "num.partitions"`) {
		t.Fatalf("no suggestion in %v", err)
	}
	// Kafka's spellings of the same thing point to this node's key.
	if _, err := Load(writeFile(t, `log.dirs = "/var/lib/kafka"`)); err == nil || !strings.Contains(err.Error(), `"data.dir"`) {
		t.Fatalf("log.dirs: %v", err)
	}
	// --set num.partitons=3 gets the same help as the file.
	if err := Default().Set("num.partitons", "3"); err == nil || !strings.Contains(err.Error(), `did you mean "num.partitions"`) {
		t.Fatalf("no suggestion for --set in %v", err)
	}
}

func TestSetOverride(t *testing.T) {
	c := Default()
	if err := c.Set("node.id", "4"); err != nil || c.NodeID != 4 {
		t.Fatalf("set node.id: %v (%d)", err, c.NodeID)
	}
	if err := c.Set("listeners", "PLAINTEXT://127.0.0.1:19092"); err != nil || c.Listener != "127.0.0.1:19092" {
		t.Fatalf("set listeners: %v (%s)", err, c.Listener)
	}
	if err := c.Set("nope", "1"); err == nil {
		t.Fatal("unknown key accepted")
	}
	if err := c.Set("node.id", "x"); err == nil {
		t.Fatal("bad value accepted")
	}
}

func TestRenderedConfigLoadsBackIdentically(t *testing.T) {
	c := Default()
	c.RetentionMs = -1
	c.AdvertisedListener = "localhost:9092"
	back, err := Load(writeFile(t, c.TOML()))
	if err != nil {
		t.Fatal(err)
	}
	back.setKeys, c.setKeys = nil, nil // the rendered file sets every key
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip differs:\n%+v\n%+v", back, c)
	}
}

func TestEveryKeyDocumented(t *testing.T) {
	for _, k := range Keys() {
		if k.Doc == "" {
			t.Errorf("key %s has no documentation", k.Name)
		}
	}
}

func TestValuesMarkExplicitKeys(t *testing.T) {
	c, err := Load(writeFile(t, "num.partitions = 3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("log.retention.ms", "1000"); err != nil {
		t.Fatal(err)
	}
	values, set := c.Values()
	if values["num.partitions"] != "3" || values["log.retention.ms"] != "1000" || values["raft.storage"] != "bbolt" {
		t.Fatalf("values %v", values)
	}
	if !set["num.partitions"] || !set["log.retention.ms"] || set["raft.storage"] {
		t.Fatalf("explicit keys %v", set)
	}
}

// The README's config reference is generated from the key table; this keeps it current.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Markdown()) {
		t.Fatal("README.md's config reference is out of date: paste the output of `go run ./cmd/chronik-node config reference` into it")
	}
}

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../../../examples/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// `chronik-node --config node.toml --listen HOST:PORT`: clients must be told the listener
// the node binds, not the file's. Check used to fill advertised.listeners in from the
// file's listener when loading it, and the override left it there, so every client was
// sent to an address nothing listened on.
func TestAdvertisedFollowsListenerOverride(t *testing.T) {
	c, err := Load(writeFile(t, `listeners = "127.0.0.1:9092"`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("listeners", "127.0.0.7:19092"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.AdvertisedListener != "127.0.0.7:19092" {
		t.Fatalf("advertised %q after --listen 127.0.0.7:19092", c.AdvertisedListener)
	}

	// An advertised address the file sets is kept whatever the listener.
	c, err = Load(writeFile(t, "listeners = \"0.0.0.0:9092\"\nadvertised.listeners = \"broker1:9092\""))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("listeners", "0.0.0.0:19092"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.AdvertisedListener != "broker1:9092" {
		t.Fatalf("advertised %q, want the file's broker1:9092", c.AdvertisedListener)
	}
}

// A zero for these keys was accepted and then quietly replaced by the node's default
// (offsets kept 7 days, retention checked every 5 min, idle connections closed after
// 10 min, the cleaner checking every 15 s, an fsync every second, session timeouts up to
// 30 min) or, for log.roll.ms, meant segments never roll by time. Kafka refuses 0 for
// log.cleanup.interval.ms, offsets.retention.minutes and segment.ms (atLeast(1)); a zero
// here now stops startup with the key named, as any other invalid value does.
func TestZeroIntervalsRefused(t *testing.T) {
	for _, key := range []string{
		"connections.max.idle.ms", "log.roll.ms", "log.retention.check.interval.ms",
		"log.cleaner.backoff.ms", "log.flush.interval.ms", "offsets.retention.minutes",
		"group.max.session.timeout.ms",
	} {
		t.Run(key, func(t *testing.T) {
			path := writeFile(t, key+" = 0")
			_, err := Load(path)
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != key || !strings.Contains(err.Error(), "at least 1") {
				t.Fatalf("%s = 0 loaded with error %v; want a config error naming the key", key, err)
			}
			if _, err := Load(writeFile(t, key+" = 1\ngroup.min.session.timeout.ms = 0")); err != nil {
				t.Fatalf("%s = 1: %v", key, err)
			}
		})
	}
	// Zero keeps its meaning where it has one.
	if _, err := Load(writeFile(t, "group.initial.rebalance.delay.ms = 0\nlog.retention.ms = -1")); err != nil {
		t.Fatal(err)
	}
}

// raft.peers and raft.listener were accepted and ignored: this build has no Raft
// transport, so every node ran as a one-voter cluster of its own, each the leader of
// the "cluster" its operator had configured. Setting them now stops startup.
func TestClusterKeysRefused(t *testing.T) {
	for _, tc := range []struct{ key, text string }{
		{"raft.peers", `raft.peers = ["2=127.0.0.1:9702", "3=127.0.0.1:9703"]`},
		{"raft.listener", `raft.listener = "127.0.0.1:9701"`},
	} {
		_, err := Load(writeFile(t, tc.text))
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%s loaded with error %v; want a config error naming %s", tc.text, err, tc.key)
		}
	}
	if _, err := Load(writeFile(t, "raft.peers = []\nraft.listener = \"\"")); err != nil {
		t.Fatalf("empty cluster keys: %v", err)
	}
}

// listeners with port 0 (any free port) got as far as registering the broker, after the
// stores were opened, and failed there with "invalid broker registration"; clients could
// not be told the port in any case. It is now a config error naming the key.
func TestListenerPortZeroRefused(t *testing.T) {
	for _, tc := range []struct{ text, key string }{
		{`listeners = "127.0.0.1:0"`, "listeners"},
		{"listeners = \"0.0.0.0:0\"\nadvertised.listeners = \"broker1:9092\"", "listeners"},
		{`advertised.listeners = "broker1:0"`, "advertised.listeners"},
	} {
		_, err := Load(writeFile(t, tc.text))
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(err.Error(), "port 0") {
			t.Errorf("%s loaded with error %v; want a config error naming %s and port 0", tc.text, err, tc.key)
		}
	}
}

// A key written both dotted and quoted (or in a table) is two keys to TOML but one here;
// it loaded, and which value won changed from run to run with Go's map order.
func TestKeyGivenTwiceRefused(t *testing.T) {
	for _, text := range []string{
		"num.partitions = 3\n\"num.partitions\" = 4",
		"\"raft.storage\" = \"memory\"\n[raft]\nstorage = \"bbolt\"",
	} {
		path := writeFile(t, text)
		_, err := Load(path)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key == "" || !strings.Contains(err.Error(), "more than once") || !strings.Contains(err.Error(), path) {
			t.Errorf("%q loaded with error %v; want a config error naming the key given twice", text, err)
		}
	}
}

// raft.proposal_timeout = "1ns" (or anything shorter than an election) started a node
// that never became ready and said nothing: registering the broker timed out and was
// tried again forever. raft.tick_interval = "1us" kept a core busy ticking. Both are
// config errors now.
func TestRaftTimingRefused(t *testing.T) {
	for _, tc := range []struct{ text, key, want string }{
		{`raft.tick_interval = "1us"`, "raft.tick_interval", "at least 1ms"},
		{`raft.proposal_timeout = "1ns"`, "raft.proposal_timeout", "at least 1ms"},
		{"raft.tick_interval = \"100ms\"\nraft.election_ticks = 10\nraft.proposal_timeout = \"500ms\"", "raft.proposal_timeout", "election"},
	} {
		_, err := Load(writeFile(t, tc.text))
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q loaded with error %v; want a config error naming %s (%q)", tc.text, err, tc.key, tc.want)
		}
	}
	if _, err := Load(writeFile(t, "raft.tick_interval = \"20ms\"\nraft.proposal_timeout = \"1s\"")); err != nil {
		t.Fatal(err)
	}
}
