package actors

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/metastore/configs"
	"github.com/chronik/chronik-node/wal"
	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/codec"
)

// partitionConfig is a topic's effective configuration as a partition acts on it.
type partitionConfig struct {
	wal               wal.Config
	maxMessageBytes   int
	logAppendTime     bool
	minInsyncReplicas int
	// cleanup.policy includes compact: the log is cleaned (partition_cleaner.go), and
	// records without a key are refused, as in Kafka.
	compacted bool
	// cleanup.policy includes delete: retention applies and DeleteRecords may move the
	// log start. Kafka refuses DeleteRecords on a compact-only topic (POLICY_VIOLATION).
	deletable bool
	clean     wal.CleanConfig // min.cleanable.dirty.ratio, min.compaction.lag.ms, delete.retention.ms
	// compression.type: the codec every batch is stored with, or keepCodec ("producer":
	// as the producer compressed it), and the levels it is written at.
	compression int8
	levels      codec.Levels
	// With CreateTime, how far a batch's timestamps may be behind or ahead of the
	// broker's clock (message.timestamp.before/after.max.ms).
	timestampBeforeMax int64
	timestampAfterMax  int64
}

// brokerConfigs is the broker-side input to topic config resolution.
func (n *Node) brokerConfigs(img *metastore.Image) *configs.Broker {
	return &configs.Broker{
		ID:          int32(n.opts.NodeID),
		Static:      n.opts.Data.StaticConfig,
		StaticSet:   n.opts.Data.StaticSet,
		ClusterWide: img.BrokerConfigs[""],
		ThisBroker:  img.BrokerConfigs[strconv.FormatUint(n.opts.NodeID, 10)],
	}
}

func resolvePartitionConfig(n *Node, img *metastore.Image, t *metastore.Topic) partitionConfig {
	b := n.brokerConfigs(img)
	get := func(name string, def int64) int64 { return configs.Int64(configs.Effective(name, t.Configs, b), def) }
	ms := func(name string, def int64) time.Duration {
		v := get(name, def)
		if v < 0 {
			return -1
		}
		return time.Duration(v) * time.Millisecond
	}
	c := partitionConfig{
		wal: wal.Config{
			SegmentBytes:       get(configs.SegmentBytes, wal.DefaultSegmentBytes),
			SegmentMs:          ms(configs.SegmentMs, wal.DefaultSegmentMs.Milliseconds()),
			RetentionMs:        ms(configs.RetentionMs, wal.DefaultRetentionMs.Milliseconds()),
			RetentionBytes:     get(configs.RetentionBytes, -1),
			IndexIntervalBytes: int(get(configs.IndexIntervalBytes, wal.DefaultIndexIntervalBytes)),
		},
		maxMessageBytes:    int(get(configs.MaxMessageBytes, 1048588)),
		logAppendTime:      configs.Effective(configs.MessageTimestamp, t.Configs, b) == "LogAppendTime",
		minInsyncReplicas:  int(get(configs.MinInsyncReplicas, 1)),
		timestampBeforeMax: get(configs.TimestampBeforeMax, math.MaxInt64),
		timestampAfterMax:  get(configs.TimestampAfterMax, 3600000),
	}
	c.compression = storedCodec(configs.Effective(configs.CompressionType, t.Configs, b))
	c.levels = codec.DefaultLevels()
	c.levels.Gzip = int(get(configs.CompressionGzipLevel, int64(c.levels.Gzip)))
	c.levels.LZ4 = int(get(configs.CompressionLz4Level, int64(c.levels.LZ4)))
	c.levels.Zstd = int(get(configs.CompressionZstdLevel, int64(c.levels.Zstd)))
	policy := configs.Effective(configs.CleanupPolicy, t.Configs, b)
	c.compacted = strings.Contains(policy, "compact")
	c.deletable = strings.Contains(policy, "delete")
	if !c.deletable {
		// compact alone: the cleaner removes superseded records, retention nothing, as in
		// Kafka. compact,delete has both.
		c.wal.RetentionMs, c.wal.RetentionBytes = -1, -1
	}
	ratio, err := strconv.ParseFloat(strings.TrimSpace(configs.Effective("min.cleanable.dirty.ratio", t.Configs, b)), 64)
	if err != nil {
		ratio = 0.5
	}
	c.clean = wal.CleanConfig{
		MinCleanableRatio: ratio,
		MinCompactionLag:  cappedMs(get("min.compaction.lag.ms", 0)),
		DeleteRetention:   cappedMs(get("delete.retention.ms", 86400000)),
	}
	// max.compaction.lag.ms defaults to Long.MAX_VALUE, which no Duration holds: never.
	if v := get("max.compaction.lag.ms", math.MaxInt64); v > 0 && v < math.MaxInt64/int64(time.Millisecond) {
		c.clean.MaxCompactionLag = time.Duration(v) * time.Millisecond
	}
	return c
}

// keepCodec is compression.type=producer: batches are stored as the producer compressed them.
const keepCodec int8 = -1

// storedCodec maps a compression.type value to the codec batches are stored with.
func storedCodec(v string) int8 {
	switch v {
	case "uncompressed", "none":
		return batch.CodecNone
	case "gzip":
		return batch.CodecGzip
	case "snappy":
		return batch.CodecSnappy
	case "lz4":
		return batch.CodecLZ4
	case "zstd":
		return batch.CodecZstd
	}
	return keepCodec
}

// cappedMs turns a non-negative millisecond setting into a Duration; values beyond what a
// Duration holds (Kafka allows up to Long.MAX_VALUE) become the largest Duration.
func cappedMs(v int64) time.Duration {
	switch {
	case v <= 0:
		return 0
	case v > math.MaxInt64/int64(time.Millisecond):
		return math.MaxInt64
	}
	return time.Duration(v) * time.Millisecond
}
