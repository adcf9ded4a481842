package fsm

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/metastore"
)

// Consumer group commands. They change the metadata store's group buckets (through
// metastore.Changes.Groups) and never the Image: committed offsets change far too often
// to be copied with every batch. The coordinator validates a request against its group
// state before proposing; the commands themselves only record the outcome, so they
// carry the timestamps the coordinator chose and every node stores the same bytes.

// CommitOffsets stores committed offsets of one group. The proposer packs concurrent
// commits into one Raft entry, so many consumers' commits share one fsync.
type CommitOffsets struct {
	Group   string         `json:"group"`
	Offsets []OffsetCommit `json:"offsets"`
}

// OffsetCommit is one partition's committed offset. The JSON names are short: these
// are the most numerous commands in the Raft log.
type OffsetCommit struct {
	Topic             string `json:"t"`
	Partition         int32  `json:"p"`
	Offset            int64  `json:"o"`
	LeaderEpoch       int32  `json:"e"`
	Metadata          string `json:"m,omitempty"`
	CommitTimestampMs int64  `json:"ts"`
	ExpireTimestampMs int64  `json:"x,omitempty"`
}

// GroupPartition names one partition of a group's committed offsets.
type GroupPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// DeleteOffsets deletes some committed offsets of a group (OffsetDelete, expiry).
type DeleteOffsets struct {
	Group      string           `json:"group"`
	Partitions []GroupPartition `json:"partitions"`
}

// StoreGroup records a group's generation (or that it is empty).
type StoreGroup struct {
	Group metastore.GroupRecord `json:"group"`
}

// DeleteGroup deletes a group's record and every offset it committed.
type DeleteGroup struct {
	Group string `json:"group"`
}

func (b *Batch) groupChanges() *metastore.GroupChanges {
	if b.changes.Groups == nil {
		b.changes.Groups = &metastore.GroupChanges{}
	}
	return b.changes.Groups
}

// commitOffsets records the offsets of partitions that exist. An offset for a partition
// deleted between the coordinator's check and this apply is dropped, as if it had been
// committed just before the deletion, which removes the offsets of deleted topics.
func (b *Batch) commitOffsets(c *CommitOffsets) Result {
	gc := b.groupChanges()
	if gc.Offsets == nil {
		gc.Offsets = make(map[metastore.OffsetKey]*metastore.CommittedOffset, len(c.Offsets))
	}
	for _, o := range c.Offsets {
		t := b.img.Topics[o.Topic]
		if t == nil || o.Partition < 0 || int(o.Partition) >= len(t.Partitions) {
			continue
		}
		gc.Offsets[metastore.OffsetKey{Group: c.Group, Topic: o.Topic, Partition: o.Partition}] = &metastore.CommittedOffset{
			Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata,
			CommitTimestampMs: o.CommitTimestampMs, ExpireTimestampMs: o.ExpireTimestampMs,
		}
	}
	return Result{}
}

func (b *Batch) deleteOffsets(c *DeleteOffsets) Result {
	gc := b.groupChanges()
	if gc.Offsets == nil {
		gc.Offsets = make(map[metastore.OffsetKey]*metastore.CommittedOffset, len(c.Partitions))
	}
	for _, p := range c.Partitions {
		gc.Offsets[metastore.OffsetKey{Group: c.Group, Topic: p.Topic, Partition: p.Partition}] = nil
	}
	return Result{}
}

func (b *Batch) storeGroup(c *StoreGroup) Result {
	if c.Group.Generation < 0 {
		return fail(kerr.InvalidRequest, "group %q: negative generation %d", c.Group.Name, c.Group.Generation)
	}
	gc := b.groupChanges()
	if gc.Groups == nil {
		gc.Groups = map[string]*metastore.GroupRecord{}
	}
	rec := c.Group
	gc.Groups[rec.Name] = &rec
	return Result{}
}

func (b *Batch) deleteGroup(c *DeleteGroup) Result {
	gc := b.groupChanges()
	if gc.PurgeGroups == nil {
		gc.PurgeGroups = map[string]bool{}
	}
	gc.PurgeGroups[c.Group] = true
	for k := range gc.Offsets {
		if k.Group == c.Group {
			delete(gc.Offsets, k) // committed earlier in this batch: the purge covers it
		}
	}
	if gc.Groups == nil {
		gc.Groups = map[string]*metastore.GroupRecord{}
	}
	gc.Groups[c.Group] = nil
	return Result{}
}

// purgeTopicOffsets removes every group's offsets of a deleted topic, as Kafka does, so
// a topic created again under the name starts without stale positions.
func (b *Batch) purgeTopicOffsets(topic string) {
	gc := b.groupChanges()
	if gc.PurgeTopics == nil {
		gc.PurgeTopics = map[string]bool{}
	}
	gc.PurgeTopics[topic] = true
	for k := range gc.Offsets {
		if k.Topic == topic {
			delete(gc.Offsets, k)
		}
	}
}
