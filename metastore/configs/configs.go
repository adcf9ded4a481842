// Package configs defines Kafka's topic configs as chronik-node serves them: names, types,
// validation, the broker key that supplies each default, and how a topic's effective
// value is resolved from its overrides, dynamic broker overrides and the static broker
// config. It is shared by the admin APIs (which validate and describe) and the partition
// actors (which act on the values).
package configs

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Type is a config's type as DescribeConfigs v3+ reports it.
type Type int8

const (
	TypeBoolean Type = 1
	TypeString  Type = 2
	TypeInt     Type = 3
	TypeLong    Type = 5
	TypeDouble  Type = 6
	TypeList    Type = 7
)

// Source says where an effective value came from (Kafka's ConfigSource).
type Source int8

const (
	SourceTopic                Source = 1 // DYNAMIC_TOPIC_CONFIG
	SourceDynamicBroker        Source = 2 // DYNAMIC_BROKER_CONFIG
	SourceDynamicDefaultBroker Source = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG
	SourceStaticBroker         Source = 4 // STATIC_BROKER_CONFIG
	SourceDefault              Source = 5 // DEFAULT_CONFIG
)

// KeyInfo is what DescribeConfigs tells about a static broker key besides its value.
type KeyInfo struct {
	Type Type
	Doc  string
}

// Def is one topic config.
type Def struct {
	Name string
	// BrokerKey is the broker config that supplies the default ("" when none).
	BrokerKey string
	Type      Type
	// Default is Kafka's default when neither the topic nor the broker sets one.
	Default string
	Doc     string
	check   func(string) error
}

// Validate checks a value for this config.
func (d *Def) Validate(v string) error {
	if d.check == nil {
		return nil
	}
	if err := d.check(v); err != nil {
		return fmt.Errorf("invalid value %q for %s: %w", v, d.Name, err)
	}
	return nil
}

// Topic config names the broker acts on.
const (
	CleanupPolicy        = "cleanup.policy"
	CompressionType      = "compression.type"
	CompressionGzipLevel = "compression.gzip.level"
	CompressionLz4Level  = "compression.lz4.level"
	CompressionZstdLevel = "compression.zstd.level"
	MaxMessageBytes      = "max.message.bytes"
	MessageTimestamp     = "message.timestamp.type"
	MinInsyncReplicas    = "min.insync.replicas"
	RetentionBytes       = "retention.bytes"
	RetentionMs          = "retention.ms"
	SegmentBytes         = "segment.bytes"
	SegmentMs            = "segment.ms"
	IndexIntervalBytes   = "index.interval.bytes"
	TimestampAfterMax    = "message.timestamp.after.max.ms"
	TimestampBeforeMax   = "message.timestamp.before.max.ms"
)

// topicDefs lists every topic config Kafka 4 knows that the broker accepts. The ones in
// the constants above take effect; the rest are accepted and described so tools that set
// them keep working, and documented as inert in the README.
var topicDefs = []Def{
	{Name: CleanupPolicy, BrokerKey: "log.cleanup.policy", Type: TypeList, Default: "delete", check: oneOfList("delete", "compact"),
		Doc: "delete: segments older than retention are removed. compact: sealed segments keep only each key's newest record (tombstones go after delete.retention.ms), records without a key are refused (INVALID_RECORD), and a compact-only topic is never deleted by retention. Both may be given."},
	{Name: CompressionType, BrokerKey: "compression.type", Type: TypeString, Default: "producer", check: oneOf("producer", "uncompressed", "none", "gzip", "snappy", "lz4", "zstd"),
		Doc: "producer: batches are stored exactly as the producer compressed them. A codec (gzip, snappy, lz4, zstd; uncompressed or none for no codec): the broker rewrites every batch of another codec into it, as Kafka does."},
	{Name: MaxMessageBytes, BrokerKey: "message.max.bytes", Type: TypeInt, Default: "1048588", check: intRange(0, math.MaxInt32),
		Doc: "Largest record batch accepted; a larger one gets MESSAGE_TOO_LARGE."},
	{Name: MessageTimestamp, BrokerKey: "log.message.timestamp.type", Type: TypeString, Default: "CreateTime", check: oneOf("CreateTime", "LogAppendTime"),
		Doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker's clock."},
	{Name: MinInsyncReplicas, BrokerKey: "min.insync.replicas", Type: TypeInt, Default: "1", check: intRange(1, math.MaxInt32),
		Doc: "acks=all needs at least this many in-sync replicas."},
	{Name: RetentionBytes, BrokerKey: "log.retention.bytes", Type: TypeLong, Default: "-1", check: intRange(-1, math.MaxInt64),
		Doc: "Oldest segments are deleted while a partition is larger; -1 is unlimited."},
	{Name: RetentionMs, BrokerKey: "log.retention.ms", Type: TypeLong, Default: "604800000", check: intRange(-1, math.MaxInt64),
		Doc: "Segments whose newest record is older are deleted; -1 keeps forever."},
	{Name: SegmentBytes, BrokerKey: "log.segment.bytes", Type: TypeInt, Default: "1073741824", check: intRange(14, math.MaxInt32),
		Doc: "A segment rolls when it would grow past this size."},
	{Name: SegmentMs, BrokerKey: "log.roll.ms", Type: TypeLong, Default: "604800000", check: intRange(1, math.MaxInt64),
		Doc: "A segment rolls when its first batch is older than this."},
	{Name: IndexIntervalBytes, BrokerKey: "log.index.interval.bytes", Type: TypeInt, Default: "4096", check: intRange(0, math.MaxInt32),
		Doc: "Bytes between offset index entries."},

	{Name: TimestampAfterMax, BrokerKey: "log.message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", check: intRange(0, math.MaxInt64),
		Doc: "With CreateTime, a batch whose newest timestamp is further than this ahead of the broker's clock gets INVALID_TIMESTAMP."},
	{Name: TimestampBeforeMax, BrokerKey: "log.message.timestamp.before.max.ms", Type: TypeLong, Default: "9223372036854775807", check: intRange(0, math.MaxInt64),
		Doc: "With CreateTime, a batch whose first timestamp is further than this behind the broker's clock gets INVALID_TIMESTAMP."},

	// Compression levels (KIP-390), for a topic whose compression.type names the codec.
	{Name: CompressionGzipLevel, BrokerKey: "compression.gzip.level", Type: TypeInt, Default: "-1", check: gzipLevel,
		Doc: "gzip level (1-9; -1: the codec's default) batches are recompressed at when compression.type is gzip."},
	{Name: CompressionLz4Level, BrokerKey: "compression.lz4.level", Type: TypeInt, Default: "9", check: intRange(1, 17),
		Doc: "lz4 level batches are recompressed at when compression.type is lz4: 9 is the fast compressor (as in Kafka), 1-8 high compression at that depth, 10-17 the deepest."},
	{Name: CompressionZstdLevel, BrokerKey: "compression.zstd.level", Type: TypeInt, Default: "3", check: intRange(-131072, 22),
		Doc: "zstd level batches are recompressed at when compression.type is zstd (mapped onto four encoder speeds: below 3, 3-5, 6-9, 10 and up)."},

	// Accepted and described, not acted on.
	{Name: "delete.retention.ms", BrokerKey: "log.cleaner.delete.retention.ms", Type: TypeLong, Default: "86400000", check: intRange(0, math.MaxInt64),
		Doc: "On a compacted topic, how long a tombstone (a record with a null value) is kept once the cleaner has seen it, so consumers catching up still see the delete."},
	{Name: "file.delete.delay.ms", BrokerKey: "log.segment.delete.delay.ms", Type: TypeLong, Default: "60000", check: intRange(0, math.MaxInt64),
		Doc: "Accepted for compatibility and not acted on."},
	{Name: "flush.messages", BrokerKey: "log.flush.interval.messages", Type: TypeLong, Default: "9223372036854775807", check: intRange(1, math.MaxInt64),
		Doc: "Accepted for compatibility and not acted on: fsync follows the broker's log.flush.policy."},
	{Name: "flush.ms", BrokerKey: "log.flush.interval.ms", Type: TypeLong, Default: "9223372036854775807", check: intRange(0, math.MaxInt64),
		Doc: "Accepted for compatibility and not acted on per topic: fsync follows the broker's log.flush.policy and log.flush.interval.ms."},
	{Name: "max.compaction.lag.ms", BrokerKey: "log.cleaner.max.compaction.lag.ms", Type: TypeLong, Default: "9223372036854775807", check: intRange(1, math.MaxInt64),
		Doc: "On a compacted topic, a partition is cleaned whatever its dirty ratio once its oldest uncleaned segment is this old."},
	{Name: "min.compaction.lag.ms", BrokerKey: "log.cleaner.min.compaction.lag.ms", Type: TypeLong, Default: "0", check: intRange(0, math.MaxInt64),
		Doc: "On a compacted topic, records younger than this are never cleaned away."},
	{Name: "min.cleanable.dirty.ratio", BrokerKey: "log.cleaner.min.cleanable.ratio", Type: TypeDouble, Default: "0.5", check: floatRange(0, 1),
		Doc: "On a compacted topic, a partition is cleaned when the bytes written since its last clean make up at least this share of its cleanable bytes."},
	{Name: "preallocate", BrokerKey: "log.preallocate", Type: TypeBoolean, Default: "false", check: isBool,
		Doc: "Accepted for compatibility and not acted on: active segments always reserve disk blocks ahead of their appends."},
	{Name: "segment.index.bytes", BrokerKey: "log.index.size.max.bytes", Type: TypeInt, Default: "10485760", check: intRange(4, math.MaxInt32),
		Doc: "Accepted for compatibility and not acted on."},
	{Name: "segment.jitter.ms", BrokerKey: "log.roll.jitter.ms", Type: TypeLong, Default: "0", check: intRange(0, math.MaxInt64),
		Doc: "Accepted for compatibility and not acted on."},
	{Name: "unclean.leader.election.enable", BrokerKey: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", check: isBool,
		Doc: "Accepted for compatibility and not acted on: leaders are chosen through the metadata Raft group."},
	// Replication throttles, which kafka-reassign-partitions.sh and operators set on the
	// topics they move.
	{Name: "leader.replication.throttled.replicas", Type: TypeList, Default: "", check: throttledReplicas,
		Doc: "Replicas (partition:broker pairs, or *) whose replication a reassignment throttles on the leader side; accepted and not acted on, as replicas are not moved here."},
	{Name: "follower.replication.throttled.replicas", Type: TypeList, Default: "", check: throttledReplicas,
		Doc: "Replicas (partition:broker pairs, or *) whose replication a reassignment throttles on the follower side; accepted and not acted on, as replicas are not moved here."},
	// Tiered storage (KIP-405): not available, as on a Kafka broker without
	// remote.log.storage.system.enable; the local retentions are accepted.
	{Name: "remote.storage.enable", Type: TypeBoolean, Default: "false", check: remoteStorage,
		Doc: "Tiered storage is not available: only false is accepted, as by a Kafka broker without remote storage."},
	{Name: "local.retention.ms", BrokerKey: "log.local.retention.ms", Type: TypeLong, Default: "-2", check: intRange(-2, math.MaxInt64),
		Doc: "Local retention of a tiered topic; accepted and not acted on, as nothing is tiered (-2: retention.ms)."},
	{Name: "local.retention.bytes", BrokerKey: "log.local.retention.bytes", Type: TypeLong, Default: "-2", check: intRange(-2, math.MaxInt64),
		Doc: "Local retention of a tiered topic; accepted and not acted on, as nothing is tiered (-2: retention.bytes)."},
	{Name: "remote.log.copy.disable", Type: TypeBoolean, Default: "false", check: isBool,
		Doc: "Tiered storage setting; accepted and not acted on, as nothing is tiered."},
	{Name: "remote.log.delete.on.disable", Type: TypeBoolean, Default: "false", check: isBool,
		Doc: "Tiered storage setting; accepted and not acted on, as nothing is tiered."},
}

var byName = func() map[string]*Def {
	m := map[string]*Def{}
	for i := range topicDefs {
		m[topicDefs[i].Name] = &topicDefs[i]
	}
	return m
}()

var byBrokerKey = func() map[string]*Def {
	m := map[string]*Def{}
	for i := range topicDefs {
		if topicDefs[i].BrokerKey != "" {
			m[topicDefs[i].BrokerKey] = &topicDefs[i]
		}
	}
	return m
}()

// Topic returns the definition of a topic config, or nil if there is none.
func Topic(name string) *Def { return byName[name] }

// ValidateTopic checks a set of topic overrides; the error names the offending key.
func ValidateTopic(overrides map[string]string) error {
	for _, name := range sortedKeys(overrides) {
		d := Topic(name)
		if d == nil {
			return fmt.Errorf("unknown topic config %q", name)
		}
		if err := d.Validate(overrides[name]); err != nil {
			return err
		}
	}
	return nil
}

// DynamicBroker reports whether a broker config key can be changed at run time through
// AlterConfigs: exactly the keys that supply topic defaults.
func DynamicBroker(key string) *Def { return byBrokerKey[key] }

// Value is an effective config value with where it came from and what it overrides.
type Value struct {
	Name     string
	Value    string
	Source   Source
	Synonyms []Synonym // the value and the values it overrides, most specific first
}

// Synonym is one source a value can come from.
type Synonym struct {
	Name   string
	Value  string
	Source Source
}

// Broker is the broker-side input to resolution: static values from the config file (by
// Kafka broker key; Static lists the keys actually set rather than defaulted) and dynamic
// overrides from the metadata image.
type Broker struct {
	ID          int32
	Static      map[string]string
	StaticSet   map[string]bool
	ClusterWide map[string]string // dynamic default overrides (resource "")
	ThisBroker  map[string]string // dynamic overrides for this broker id
}

// brokerValue resolves a broker key: dynamic per-broker, dynamic cluster-wide, static
// (set in the file), then the built-in default.
func (b *Broker) brokerValue(key, builtin string) []Synonym {
	var syn []Synonym
	if v, ok := b.ThisBroker[key]; ok {
		syn = append(syn, Synonym{key, v, SourceDynamicBroker})
	}
	if v, ok := b.ClusterWide[key]; ok {
		syn = append(syn, Synonym{key, v, SourceDynamicDefaultBroker})
	}
	if v, ok := b.Static[key]; ok && b.StaticSet[key] {
		syn = append(syn, Synonym{key, v, SourceStaticBroker})
	} else if ok {
		syn = append(syn, Synonym{key, v, SourceDefault})
	} else {
		syn = append(syn, Synonym{key, builtin, SourceDefault})
	}
	return syn
}

// ResolveTopic returns every topic config's effective value for a topic with overrides.
func ResolveTopic(overrides map[string]string, b *Broker) []Value {
	out := make([]Value, 0, len(topicDefs))
	for _, d := range topicDefs {
		var syn []Synonym
		if v, ok := overrides[d.Name]; ok {
			syn = append(syn, Synonym{d.Name, v, SourceTopic})
		}
		// A config without a broker key has no broker synonyms (Kafka lists none for
		// it); its default is the topic config's own.
		if d.BrokerKey != "" {
			syn = append(syn, b.brokerValue(d.BrokerKey, d.Default)...)
		}
		value, source := d.Default, SourceDefault
		if len(syn) > 0 {
			value, source = syn[0].Value, syn[0].Source
		}
		out = append(out, Value{Name: d.Name, Value: value, Source: source, Synonyms: syn})
	}
	return out
}

// Effective resolves one topic config to its value.
func Effective(name string, overrides map[string]string, b *Broker) string {
	if v, ok := overrides[name]; ok {
		return v
	}
	d := Topic(name)
	if d == nil {
		return ""
	}
	return b.brokerValue(d.BrokerKey, d.Default)[0].Value
}

// ResolveBroker lists a broker's configs: every static key, every topic default (set or
// not, as Kafka lists its whole broker config) and the dynamic overrides.
func ResolveBroker(b *Broker) []Value {
	keys := map[string]bool{}
	for k := range b.Static {
		keys[k] = true
	}
	for k := range byBrokerKey {
		keys[k] = true
	}
	for k := range b.ClusterWide {
		keys[k] = true
	}
	for k := range b.ThisBroker {
		keys[k] = true
	}
	out := make([]Value, 0, len(keys))
	for _, k := range sortedKeys(keys) {
		builtin := ""
		if d := DynamicBroker(k); d != nil {
			builtin = d.Default
		}
		syn := b.brokerValue(k, builtin)
		out = append(out, Value{Name: k, Value: syn[0].Value, Source: syn[0].Source, Synonyms: syn})
	}
	return out
}

// Int64 parses an effective numeric value, falling back to def when it does not parse
// (values are validated before they are stored, so that only guards old data).
func Int64(v string, def int64) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return def
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func intRange(lo, hi int64) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		return nil
	}
}

// gzipLevel is Kafka's check of compression.gzip.level: -1 (the codec's default) or 1-9.
func gzipLevel(s string) error {
	if err := intRange(-1, 9)(s); err != nil {
		return err
	}
	if n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64); n == 0 {
		return fmt.Errorf("must be -1 or between 1 and 9")
	}
	return nil
}

func floatRange(lo, hi float64) func(string) error {
	return func(s string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		if f < lo || f > hi {
			return fmt.Errorf("must be between %g and %g", lo, hi)
		}
		return nil
	}
}

// throttledReplicas checks a replication throttle list as Kafka's
// ThrottledReplicaListValidator does: empty, "*", or partition:broker pairs.
func throttledReplicas(s string) error {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" {
		return nil
	}
	for _, entry := range strings.Split(s, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok || !isDigits(p) || !isDigits(b) {
			return fmt.Errorf("must be \"*\" or a list of partitionId:brokerId")
		}
	}
	return nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// remoteStorage refuses tiered storage, which this broker does not have, with Kafka's
// words for a broker that has it off.
func remoteStorage(s string) error {
	if err := isBool(s); err != nil {
		return err
	}
	if s == "true" {
		return fmt.Errorf("tiered storage functionality is disabled in the broker; a topic cannot be configured with remote log storage")
	}
	return nil
}

func isBool(s string) error {
	if s != "true" && s != "false" {
		return fmt.Errorf("must be true or false")
	}
	return nil
}

func oneOf(options ...string) func(string) error {
	return func(s string) error {
		if !slices.Contains(options, s) {
			return fmt.Errorf("must be one of %s", strings.Join(options, ", "))
		}
		return nil
	}
}

func oneOfList(options ...string) func(string) error {
	return func(s string) error {
		for _, part := range strings.Split(s, ",") {
			if !slices.Contains(options, strings.TrimSpace(part)) {
				return fmt.Errorf("must be a list of %s", strings.Join(options, ", "))
			}
		}
		return nil
	}
}
