// Package config holds chronik-node's configuration: the typed Config, the table of every
// key (name, default, meaning, validation) and strict TOML loading. The key table is the
// single source for defaults, validation, `config check` output and the README reference.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the effective configuration of one node.
type Config struct {
	NodeID  int32
	DataDir string

	Listener              string // host:port the Kafka listener binds
	AdvertisedListener    string // host:port clients are told to connect to
	MaxRequestBytes       int32
	MaxInFlightPerConn    int
	MaxQueuedRequestBytes int64
	MaxQueuedFetchBytes   int64
	FetchSessionSlots     int
	ConnMaxIdle           time.Duration

	DebugListener  string
	FaultInjection bool

	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	MinInsyncReplicas        int

	MessageMaxBytes        int32
	SegmentBytes           int64
	SegmentMs              time.Duration
	RetentionMs            time.Duration // <0: forever
	RetentionBytes         int64         // <0: unlimited
	RetentionCheckInterval time.Duration
	CleanerBackoff         time.Duration
	FlushPolicy            string // "interval" or "always"
	FlushInterval          time.Duration

	OffsetsRetention           time.Duration
	GroupMinSessionTimeout     time.Duration
	GroupMaxSessionTimeout     time.Duration
	GroupInitialRebalanceDelay time.Duration

	RaftStorage         string // "bbolt" or "memory"
	RaftTick            time.Duration
	RaftElectionTicks   int
	RaftHeartbeatTicks  int
	RaftSnapshotEntries uint64
	RaftProposalTimeout time.Duration
	RaftListener        string
	RaftPeers           []string // "id=host:port"

	LogLevel  string
	LogFormat string

	// setKeys records which keys the file or the command line set (the rest are defaults).
	setKeys map[string]bool
}

// kind is a key's value type as written in TOML.
type kind int

const (
	kindInt kind = iota
	kindBool
	kindString
	kindDuration // a Go duration string: "100ms", "10s"
	kindStrings
)

func (k kind) String() string {
	return [...]string{"integer", "boolean", "string", "duration string (e.g. \"100ms\")", "array of strings"}[k]
}

// Key describes one configuration key.
type Key struct {
	Name    string
	Kind    kind
	Default string // as it would be written in TOML, without quotes
	Doc     string
	// long marks an integer key whose values need 64 bits (Kafka's LONG, not INT).
	long bool
	// set validates the decoded value and stores it in c.
	set func(c *Config, v value) error
	// get renders the current value as text (the inverse of parseText).
	get func(c *Config) string
}

// value is a decoded TOML value of a known kind.
type value struct {
	i  int64
	b  bool
	s  string
	d  time.Duration
	ss []string
}

// DescribedType is the key's type as Kafka's DescribeConfigs reports a broker config's
// (its ConfigType: BOOLEAN 1, STRING 2, INT 3, LONG 5, LIST 7). A duration string is
// text to a Kafka client.
func (k Key) DescribedType() int8 {
	switch k.Kind {
	case kindBool:
		return 1
	case kindInt:
		if k.long {
			return 5
		}
		return 3
	case kindStrings:
		return 7
	}
	return 2
}

// Keys lists every key in documentation order.
func Keys() []Key { return keyTable }

// Default returns the configuration used when no file is given.
func Default() *Config {
	c := &Config{}
	for _, k := range keyTable {
		v, err := parseText(k, k.Default)
		if err == nil {
			err = k.set(c, v)
		}
		if err != nil {
			panic(fmt.Sprintf("default of %s is invalid: %v", k.Name, err)) // a bug in keyTable
		}
	}
	return c
}

// Error is a configuration error naming the key and the file.
type Error struct {
	File string
	Key  string
	Err  error
}

func (e *Error) Error() string {
	where := e.File
	if where == "" {
		where = "command line"
	}
	if e.Key == "" {
		return fmt.Sprintf("config %s: %v", where, e.Err)
	}
	return fmt.Sprintf("config %s: key %q: %v", where, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads path strictly over the defaults: a TOML syntax error, an unknown key, a value
// of the wrong type or an invalid value is an *Error naming the key and the file.
func Load(path string) (*Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, &Error{File: path, Err: err}
	}
	flat := map[string]any{}
	if dup := flatten("", raw, flat); dup != "" {
		return nil, &Error{File: path, Key: dup, Err: errors.New("given more than once (as a dotted key, a quoted key or in a table)")}
	}
	names := make([]string, 0, len(flat))
	for name := range flat {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := c.setRaw(name, flat[name]); err != nil {
			return nil, &Error{File: path, Key: name, Err: err}
		}
	}
	if err := c.check(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	return c, nil
}

// Set applies one key given as text (a command-line override).
func (c *Config) Set(name, text string) error {
	k, ok := keyByName[name]
	if !ok {
		return &Error{Key: name, Err: errors.New("unknown key" + suggest(name))}
	}
	v, err := parseText(k, text)
	if err == nil {
		err = k.set(c, v)
	}
	if err != nil {
		return &Error{Key: name, Err: err}
	}
	c.markSet(name)
	return nil
}

// Check validates relations between keys; Load calls it, callers that apply overrides
// after loading call it again.
func (c *Config) Check() error { return c.check() }

func (c *Config) check() error {
	// Unless set, the advertised address follows the listener, which a command-line
	// override may have changed since an earlier Check filled it in.
	if c.AdvertisedListener == "" || !c.setKeys["advertised.listeners"] {
		c.AdvertisedListener = c.Listener
	}
	// Port 0 would bind any free port, which the broker registration could not name.
	if _, port, _ := net.SplitHostPort(c.Listener); port == "0" {
		return &Error{Key: "listeners", Err: fmt.Errorf("%q: port 0 (any free port) cannot be given to clients; choose a port", c.Listener)}
	}
	if _, port, _ := net.SplitHostPort(c.AdvertisedListener); port == "0" {
		return &Error{Key: "advertised.listeners", Err: fmt.Errorf("%q: port 0 is not a port clients can connect to", c.AdvertisedListener)}
	}
	if host, _, _ := net.SplitHostPort(c.AdvertisedListener); host == "" || host == "0.0.0.0" || host == "::" {
		return &Error{Key: "advertised.listeners", Err: fmt.Errorf("%q is not an address clients can connect to; set advertised.listeners", c.AdvertisedListener)}
	}
	if c.GroupMinSessionTimeout > c.GroupMaxSessionTimeout {
		return &Error{Key: "group.min.session.timeout.ms", Err: fmt.Errorf("%v is above group.max.session.timeout.ms %v", c.GroupMinSessionTimeout, c.GroupMaxSessionTimeout)}
	}
	if c.RaftHeartbeatTicks >= c.RaftElectionTicks {
		return &Error{Key: "raft.election_ticks", Err: fmt.Errorf("%d must exceed raft.heartbeat_ticks %d", c.RaftElectionTicks, c.RaftHeartbeatTicks)}
	}
	// A proposal made while there is no leader waits for an election; one that cannot
	// outlast an election fails every time there is one, the broker's registration at
	// start included, which was retried forever.
	if election := time.Duration(c.RaftElectionTicks) * c.RaftTick; c.RaftProposalTimeout < election {
		return &Error{Key: "raft.proposal_timeout", Err: fmt.Errorf("%v is shorter than an election (raft.election_ticks x raft.tick_interval = %v)", c.RaftProposalTimeout, election)}
	}
	// A node told of peers it has no transport to reach would run alone, the leader of a
	// one-voter group of its own, and so would each of its "peers".
	if len(c.RaftPeers) > 0 {
		return &Error{Key: "raft.peers", Err: errors.New("clusters are not supported yet (this build has no Raft transport); leave it empty")}
	}
	if c.RaftListener != "" {
		return &Error{Key: "raft.listener", Err: errors.New("clusters are not supported yet (this build has no Raft transport); leave it empty")}
	}
	return nil
}

// flatten turns TOML tables into dotted key names. `a.b = 1` and `"a.b" = 1` are two keys
// to TOML but one here: it returns such a name, if any, rather than let one of them win
// at random.
func flatten(prefix string, m map[string]any, out map[string]any) (duplicate string) {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			if dup := flatten(name, sub, out); dup != "" {
				duplicate = dup
			}
			continue
		}
		if _, seen := out[name]; seen {
			duplicate = name
		}
		out[name] = v
	}
	return duplicate
}

func (c *Config) setRaw(name string, raw any) error {
	k, ok := keyByName[name]
	if !ok {
		return errors.New("unknown key" + suggest(name))
	}
	var v value
	switch k.Kind {
	case kindInt:
		n, ok := raw.(int64)
		if !ok {
			return fmt.Errorf("want %s, got %s", k.Kind, describe(raw))
		}
		v.i = n
	case kindBool:
		b, ok := raw.(bool)
		if !ok {
			return fmt.Errorf("want %s, got %s", k.Kind, describe(raw))
		}
		v.b = b
	case kindString, kindDuration:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("want %s, got %s", k.Kind, describe(raw))
		}
		var err error
		if v, err = parseText(k, s); err != nil {
			return err
		}
	case kindStrings:
		list, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("want %s, got %s", k.Kind, describe(raw))
		}
		for _, item := range list {
			s, ok := item.(string)
			if !ok {
				return fmt.Errorf("want %s, got an element %s", k.Kind, describe(item))
			}
			v.ss = append(v.ss, s)
		}
	}
	if err := k.set(c, v); err != nil {
		return err
	}
	c.markSet(name)
	return nil
}

func (c *Config) markSet(name string) {
	if c.setKeys == nil {
		c.setKeys = map[string]bool{}
	}
	c.setKeys[name] = true
}

// Values renders every key's effective value, and which keys were set explicitly.
func (c *Config) Values() (values map[string]string, set map[string]bool) {
	values = make(map[string]string, len(keyTable))
	set = make(map[string]bool, len(c.setKeys))
	for _, k := range keyTable {
		values[k.Name] = k.get(c)
		if c.setKeys[k.Name] {
			set[k.Name] = true
		}
	}
	return values, set
}

func describe(raw any) string {
	switch raw.(type) {
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", raw)
}

// kafkaSpellings maps Kafka broker keys a Kafka operator will reach for to this node's
// key for the same thing; a common prefix would point them somewhere else ("log.dirs"
// shares more with "log.segment.bytes" than with "data.dir").
var kafkaSpellings = map[string]string{
	"log.dirs":            "data.dir",
	"log.dir":             "data.dir",
	"broker.id":           "node.id",
	"log.retention.hours": "log.retention.ms",
	"log.roll.hours":      "log.roll.ms",
}

// suggest names a known key close to an unknown one, for typos.
func suggest(name string) string {
	if key, ok := kafkaSpellings[name]; ok {
		return fmt.Sprintf(" (this node's key for it is %q)", key)
	}
	best, bestScore := "", 0
	for _, k := range keyTable {
		score := commonPrefix(name, k.Name)
		if score > bestScore && score >= len(name)/2 {
			best, bestScore = k.Name, score
		}
	}
	if best == "" {
		return " (see the README's config reference)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// parseText parses a value written as text (a default or a flag) for key k.
func parseText(k Key, text string) (value, error) {
	var v value
	switch k.Kind {
	case kindInt:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return v, fmt.Errorf("want %s, got %q", k.Kind, text)
		}
		v.i = n
	case kindBool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return v, fmt.Errorf("want %s, got %q", k.Kind, text)
		}
		v.b = b
	case kindString:
		v.s = text
	case kindDuration:
		d, err := time.ParseDuration(text)
		if err != nil {
			return v, fmt.Errorf("want %s, got %q", k.Kind, text)
		}
		v.d = d
	case kindStrings:
		if text != "" {
			v.ss = strings.Split(text, ",")
		}
	}
	return v, nil
}

// TOML renders the effective configuration as a TOML document with every key.
func (c *Config) TOML() string {
	var sb strings.Builder
	sb.WriteString("# effective chronik-node configuration (defaults included)\n")
	for _, k := range keyTable {
		fmt.Fprintf(&sb, "%q = %s\n", k.Name, c.render(k))
	}
	return sb.String()
}

func (c *Config) render(k Key) string {
	text := k.get(c)
	switch k.Kind {
	case kindString, kindDuration:
		return strconv.Quote(text)
	case kindStrings:
		var parts []string
		for _, s := range strings.Split(text, ",") {
			if s != "" {
				parts = append(parts, strconv.Quote(s))
			}
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return text
}

// Markdown renders the key table for the README's config reference.
func Markdown() string {
	var sb strings.Builder
	sb.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for _, k := range keyTable {
		def := k.Default
		if k.Kind == kindString || k.Kind == kindDuration {
			def = strconv.Quote(def)
		}
		if k.Kind == kindStrings {
			def = "[]"
		}
		fmt.Fprintf(&sb, "| `%s` | `%s` | %s |\n", k.Name, def, strings.ReplaceAll(k.Doc, "|", "\\|"))
	}
	return sb.String()
}
