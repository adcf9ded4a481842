package config

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// keyTable is every configuration key. Kafka's own names are used where Kafka has one;
// chronik-specific keys are grouped under node., debug., raft. and logging.
var keyTable = []Key{
	intKey("node.id", "1", "This node's id, unique in the cluster (Kafka's node.id).", 0, 1<<30, func(c *Config) *int32 { return &c.NodeID }),
	stringKey("data.dir", "./data", "Directory for the metadata store, the Raft log and every partition's log.", nonEmpty, func(c *Config) *string { return &c.DataDir }),

	stringKey("listeners", "127.0.0.1:9092", "Kafka listener, host:port (a PLAINTEXT:// prefix is accepted).", hostPort, func(c *Config) *string { return &c.Listener }),
	stringKey("advertised.listeners", "", "Address given to clients in metadata, host:port; empty means the listener's.", optionalHostPort, func(c *Config) *string { return &c.AdvertisedListener }),
	intKey("socket.request.max.bytes", "104857600", "Largest request accepted; the size is checked before any allocation.", 1024, 1<<31-1, func(c *Config) *int32 { return &c.MaxRequestBytes }),
	intKey("max.inflight.requests.per.connection", "64", "Requests handled concurrently on one connection (answered in order).", 1, 4096, func(c *Config) *int { return &c.MaxInFlightPerConn }),
	intKey("queued.max.request.bytes", "536870912", "Request bytes read and not yet handled, over all connections; a connection waits to read more until there is room (a larger request is admitted alone). A Fetch of 64 KiB or more counts 24 times its size, and a Produce of 64 KiB or more 400 bytes more for each partition it names: the memory their handling holds. One that would count more than twice this is refused, its connection closed as for a request over socket.request.max.bytes (with the default, a Fetch of 44 MB, some 1.3 million partitions, or a Produce of 2.7 million partitions). Left unset, it is at most a quarter of the memory the node may use (its cgroup limit, or the RAM).", 1<<20, 1<<40, func(c *Config) *int64 { return &c.MaxQueuedRequestBytes }),
	intKey("max.incremental.fetch.session.cache.slots", "1000", "Incremental fetch sessions (KIP-227) the node keeps; 0 turns them off (consumers then send full fetches).", 0, 1<<20, func(c *Config) *int { return &c.FetchSessionSlots }),
	intKey("queued.max.fetch.bytes", "536870912", "Record bytes read for Fetch responses not yet written, over all connections; one connection's Fetches hold at most a quarter of it, so a consumer that stops reading leaves room for the others. A Fetch reads as much as there is room for; with less than 1 MiB free it waits at most its max wait, then answers without the records. Left unset, it is at most a quarter of the memory the node may use (its cgroup limit, or the RAM), and no less than 64 MiB.", 64<<20, 1<<40, func(c *Config) *int64 { return &c.MaxQueuedFetchBytes }),
	msKey("connections.max.idle.ms", "600000", "Close connections idle this long.", 1, func(c *Config) *time.Duration { return &c.ConnMaxIdle }),

	stringKey("debug.listener", "127.0.0.1:9644", "Debug HTTP listener: the /debug/ page, /debug/* JSON, /metrics, /healthz, pprof; empty disables it.", optionalHostPort, func(c *Config) *string { return &c.DebugListener }),

	boolKey("debug.fault_injection", "false", "Serve POST /debug/panic?actor=ID, which makes that actor panic (for drills and tests; never in production).", func(c *Config) *bool { return &c.FaultInjection }),

	intKey("num.partitions", "1", "Partitions of auto-created topics and of CreateTopics without a count.", 1, 100000, func(c *Config) *int32 { return &c.NumPartitions }),
	intKey("default.replication.factor", "1", "Replication factor of auto-created topics and of CreateTopics without one.", 1, 32767, func(c *Config) *int16 { return &c.DefaultReplicationFactor }),
	boolKey("auto.create.topics.enable", "true", "Create a topic when a client's Metadata request names it and allows creation, as Kafka does; a Produce alone never creates one.", func(c *Config) *bool { return &c.AutoCreateTopics }),
	intKey("min.insync.replicas", "1", "Default min.insync.replicas for acks=all.", 1, 32767, func(c *Config) *int { return &c.MinInsyncReplicas }),

	intKey("message.max.bytes", "1048588", "Default largest record batch accepted (topic max.message.bytes).", 0, 1<<31-1, func(c *Config) *int32 { return &c.MessageMaxBytes }),
	intKey("log.segment.bytes", "1073741824", "Default segment size (topic segment.bytes).", 1<<14, 1<<31-1, func(c *Config) *int64 { return &c.SegmentBytes }),
	msKey("log.roll.ms", "604800000", "Default time after which a segment rolls (topic segment.ms).", 1, func(c *Config) *time.Duration { return &c.SegmentMs }),
	msKey("log.retention.ms", "604800000", "Default retention by age (topic retention.ms); -1 keeps forever.", -1, func(c *Config) *time.Duration { return &c.RetentionMs }),
	intKey("log.retention.bytes", "-1", "Default retention by partition size (topic retention.bytes); -1 is unlimited.", -1, 1<<62, func(c *Config) *int64 { return &c.RetentionBytes }),
	msKey("log.retention.check.interval.ms", "300000", "How often retention runs.", 1, func(c *Config) *time.Duration { return &c.RetentionCheckInterval }),
	msKey("log.cleaner.backoff.ms", "15000", "How often each partition of a compacted topic (cleanup.policy with compact) checks whether its log needs cleaning; one partition of the node is cleaned at a time.", 1, func(c *Config) *time.Duration { return &c.CleanerBackoff }),
	enumKey("log.flush.policy", "interval", "When partition logs are fsynced: \"always\" (before acknowledging; concurrent appends share one fsync) or \"interval\" (every log.flush.interval.ms; a power failure can lose the last interval).", []string{"always", "interval"}, func(c *Config) *string { return &c.FlushPolicy }),
	msKey("log.flush.interval.ms", "1000", "fsync period under log.flush.policy = \"interval\".", 1, func(c *Config) *time.Duration { return &c.FlushInterval }),

	minutesKey("offsets.retention.minutes", "10080", "Committed offsets of an empty group expire after this long.", 1, func(c *Config) *time.Duration { return &c.OffsetsRetention }),
	msKey("group.min.session.timeout.ms", "6000", "Smallest session timeout a group member may ask for.", 0, func(c *Config) *time.Duration { return &c.GroupMinSessionTimeout }),
	msKey("group.max.session.timeout.ms", "1800000", "Largest session timeout a group member may ask for.", 1, func(c *Config) *time.Duration { return &c.GroupMaxSessionTimeout }),
	msKey("group.initial.rebalance.delay.ms", "3000", "Wait for more members before the first rebalance of an empty group.", 0, func(c *Config) *time.Duration { return &c.GroupInitialRebalanceDelay }),

	enumKey("raft.storage", "bbolt", "Where the metadata Raft log lives: \"bbolt\" (durable) or \"memory\" (rebuilt from the metadata store by Bootstrap at start).", []string{"bbolt", "memory"}, func(c *Config) *string { return &c.RaftStorage }),
	durationKey("raft.tick_interval", "100ms", "Raft tick period.", time.Millisecond, func(c *Config) *time.Duration { return &c.RaftTick }),
	intKey("raft.election_ticks", "10", "Ticks without a leader before an election.", 2, 1000, func(c *Config) *int { return &c.RaftElectionTicks }),
	intKey("raft.heartbeat_ticks", "1", "Ticks between leader heartbeats.", 1, 1000, func(c *Config) *int { return &c.RaftHeartbeatTicks }),
	intKey("raft.snapshot_entries", "10000", "Applied entries between snapshots that compact the Raft log.", 10, 1<<40, func(c *Config) *uint64 { return &c.RaftSnapshotEntries }),
	durationKey("raft.proposal_timeout", "10s", "A metadata change not applied within this answers REQUEST_TIMED_OUT.", time.Millisecond, func(c *Config) *time.Duration { return &c.RaftProposalTimeout }),
	stringKey("raft.listener", "", "Raft peer listener, host:port, for clusters, which this build does not run yet: a value stops startup.", optionalHostPort, func(c *Config) *string { return &c.RaftListener }),
	stringsKey("raft.peers", "", "Other voters as \"id=host:port\", for clusters, which this build does not run yet: a value stops startup.", func(c *Config) *[]string { return &c.RaftPeers }),

	enumKey("logging.level", "info", "Log level.", []string{"trace", "debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel }),
	enumKey("logging.format", "json", "Log format: \"json\" (one object per line) or \"console\" (human-readable).", []string{"json", "console"}, func(c *Config) *string { return &c.LogFormat }),
}

var keyByName = func() map[string]Key {
	m := make(map[string]Key, len(keyTable))
	for _, k := range keyTable {
		m[k.Name] = k
	}
	return m
}()

type integer interface {
	~int | ~int16 | ~int32 | ~int64 | ~uint64
}

func intKey[T integer](name, def, doc string, lo, hi int64, field func(*Config) *T) Key {
	return Key{Name: name, Kind: kindInt, Default: def, Doc: doc, long: hi > math.MaxInt32,
		set: func(c *Config, v value) error {
			if v.i < lo || v.i > hi {
				return fmt.Errorf("%d is outside %d..%d", v.i, lo, hi)
			}
			*field(c) = T(v.i)
			return nil
		},
		get: func(c *Config) string { return strconv.FormatInt(int64(*field(c)), 10) },
	}
}

func boolKey(name, def, doc string, field func(*Config) *bool) Key {
	return Key{Name: name, Kind: kindBool, Default: def, Doc: doc,
		set: func(c *Config, v value) error { *field(c) = v.b; return nil },
		get: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

func stringKey(name, def, doc string, check func(string) (string, error), field func(*Config) *string) Key {
	return Key{Name: name, Kind: kindString, Default: def, Doc: doc,
		set: func(c *Config, v value) error {
			s, err := check(v.s)
			if err != nil {
				return err
			}
			*field(c) = s
			return nil
		},
		get: func(c *Config) string { return *field(c) },
	}
}

func stringsKey(name, def, doc string, field func(*Config) *[]string) Key {
	return Key{Name: name, Kind: kindStrings, Default: def, Doc: doc,
		set: func(c *Config, v value) error { *field(c) = slices.Clone(v.ss); return nil },
		get: func(c *Config) string { return strings.Join(*field(c), ",") },
	}
}

func enumKey(name, def, doc string, options []string, field func(*Config) *string) Key {
	return stringKey(name, def, doc, func(s string) (string, error) {
		if !slices.Contains(options, s) {
			return "", fmt.Errorf("%q is not one of %s", s, strings.Join(options, ", "))
		}
		return s, nil
	}, field)
}

// durationKey is a Go duration string of at least min.
func durationKey(name, def, doc string, min time.Duration, field func(*Config) *time.Duration) Key {
	return Key{Name: name, Kind: kindDuration, Default: def, Doc: doc,
		set: func(c *Config, v value) error {
			if v.d < min {
				return fmt.Errorf("%v must be at least %v", v.d, min)
			}
			*field(c) = v.d
			return nil
		},
		get: func(c *Config) string { return field(c).String() },
	}
}

// msKey is a Kafka-style integer number of milliseconds, at least min. A min of -1 lets
// -1 mean "never" (kept as a negative duration). Keys whose zero the node would only
// replace by its default take min 1, so a zero is refused rather than ignored.
func msKey(name, def, doc string, min int64, field func(*Config) *time.Duration) Key {
	return unitKey(name, def, doc, time.Millisecond, min, field)
}

func minutesKey(name, def, doc string, min int64, field func(*Config) *time.Duration) Key {
	return unitKey(name, def, doc, time.Minute, min, field)
}

func unitKey(name, def, doc string, unit time.Duration, min int64, field func(*Config) *time.Duration) Key {
	// Kafka's millisecond keys are LONGs; its minute keys are INTs.
	return Key{Name: name, Kind: kindInt, Default: def, Doc: doc, long: unit == time.Millisecond,
		set: func(c *Config, v value) error {
			switch {
			case v.i == -1 && min == -1:
				*field(c) = -1
				return nil
			case v.i < 0 && min <= 0:
				return fmt.Errorf("%d must not be negative", v.i)
			case v.i < min:
				return fmt.Errorf("%d must be at least %d", v.i, min)
			case v.i > int64(1<<62)/int64(unit):
				return fmt.Errorf("%d is too large", v.i)
			}
			*field(c) = time.Duration(v.i) * unit
			return nil
		},
		get: func(c *Config) string {
			d := *field(c)
			if d < 0 {
				return "-1"
			}
			return strconv.FormatInt(int64(d/unit), 10)
		},
	}
}

func nonEmpty(s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("must not be empty")
	}
	return s, nil
}

// hostPort accepts host:port, with an optional PLAINTEXT:// prefix as Kafka writes it.
func hostPort(s string) (string, error) {
	s = strings.TrimPrefix(s, "PLAINTEXT://")
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%q has an invalid port", s)
	}
	return net.JoinHostPort(host, port), nil
}

func optionalHostPort(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return hostPort(s)
}
