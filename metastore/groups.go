package metastore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Consumer group state lives in its own buckets and never in an Image: offsets change
// thousands of times a second and an Image is copied per applied batch. The buckets are
// written through Changes like the rest of the store (one fsynced transaction per
// applied batch) and read directly by the group coordinator.
//
// Keys:
//   - offsets: uvarint(len(group)) group uvarint(len(topic)) topic BE32(partition), so
//     the offsets of one group are one contiguous key range whatever bytes the names hold.
//   - groups: 'g' followed by the group name (bbolt refuses an empty key and Kafka allows
//     an empty group id for offset storage).
var (
	bucketOffsets = []byte("offsets")
	bucketGroups  = []byte("groups")

	// groupBuckets are created by Open but left alone by Replace: a Raft snapshot carries
	// the Image only, so installing one must not drop committed offsets.
	groupBuckets = [][]byte{bucketOffsets, bucketGroups}
)

// OffsetKey names one committed offset.
type OffsetKey struct {
	Group     string
	Topic     string
	Partition int32
}

// CommittedOffset is a group's committed position in one partition.
type CommittedOffset struct {
	Topic       string `json:"-"` // from the key
	Partition   int32  `json:"-"` // from the key
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Metadata    string `json:"metadata,omitempty"`
	// CommitTimestampMs is when the coordinator accepted the commit; offset expiry of
	// standalone groups counts from it.
	CommitTimestampMs int64 `json:"commit_ms"`
	// ExpireTimestampMs is an explicit expiry asked for by OffsetCommit v1-v4 (0: none).
	ExpireTimestampMs int64 `json:"expire_ms,omitempty"`
}

// GroupRecord is a classic consumer group as persisted when a generation completes and
// when the group empties: enough for a restarted coordinator to resume the generation
// without a rebalance (members keep heartbeating, static members rejoin in place).
type GroupRecord struct {
	Name         string `json:"name"`
	ProtocolType string `json:"protocol_type,omitempty"`
	Protocol     string `json:"protocol,omitempty"`
	Generation   int32  `json:"generation"`
	Leader       string `json:"leader,omitempty"`
	// StateSinceMs is when the group entered the state it was stored in; for an empty
	// group, offset expiry counts from it.
	StateSinceMs int64         `json:"state_since_ms,omitempty"`
	Members      []GroupMember `json:"members,omitempty"`
}

// GroupMember is one member of a stored generation.
type GroupMember struct {
	ID                 string  `json:"id"`
	InstanceID         *string `json:"instance_id,omitempty"`
	ClientID           string  `json:"client_id"`
	ClientHost         string  `json:"client_host"`
	SessionTimeoutMs   int32   `json:"session_timeout_ms"`
	RebalanceTimeoutMs int32   `json:"rebalance_timeout_ms"`
	Metadata           []byte  `json:"metadata,omitempty"` // for the group's selected protocol
	Assignment         []byte  `json:"assignment,omitempty"`
}

// GroupChanges is what one applied batch changed in consumer group state. The store
// applies it in this order: purges, then Offsets, then Groups, which is the order the
// state machine needs (a commit applied after a group's deletion in the same batch
// survives the purge).
type GroupChanges struct {
	// PurgeGroups deletes every committed offset of these groups.
	PurgeGroups map[string]bool
	// PurgeTopics deletes every group's committed offsets of these topics.
	PurgeTopics map[string]bool
	// Offsets sets (or with a nil value deletes) single offsets.
	Offsets map[OffsetKey]*CommittedOffset
	// Groups sets (or with a nil value deletes) group records.
	Groups map[string]*GroupRecord
}

// Empty reports whether c changes nothing.
func (c *GroupChanges) Empty() bool {
	return c == nil || len(c.PurgeGroups) == 0 && len(c.PurgeTopics) == 0 && len(c.Offsets) == 0 && len(c.Groups) == 0
}

func encodeGroupPrefix(group string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(group)))
	return append(b, group...)
}

func encodeOffsetKey(k OffsetKey) []byte {
	b := encodeGroupPrefix(k.Group)
	b = binary.AppendUvarint(b, uint64(len(k.Topic)))
	b = append(b, k.Topic...)
	return binary.BigEndian.AppendUint32(b, uint32(k.Partition))
}

// decodeOffsetKey is the inverse of encodeOffsetKey; ok is false for a malformed key.
func decodeOffsetKey(b []byte) (k OffsetKey, ok bool) {
	var s [2]string
	for i := range s {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return k, false
		}
		s[i] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	if len(b) != 4 {
		return k, false
	}
	return OffsetKey{Group: s[0], Topic: s[1], Partition: int32(binary.BigEndian.Uint32(b))}, true
}

func groupKey(name string) []byte { return append([]byte{'g'}, name...) }

func writeGroupChanges(tx *bolt.Tx, c *GroupChanges) error {
	if c.Empty() {
		return nil
	}
	offsets := tx.Bucket(bucketOffsets)
	for group := range c.PurgeGroups {
		if err := deletePrefix(offsets, encodeGroupPrefix(group)); err != nil {
			return fmt.Errorf("purge offsets of group %q: %w", group, err)
		}
	}
	if len(c.PurgeTopics) > 0 {
		if err := purgeTopics(offsets, c.PurgeTopics); err != nil {
			return err
		}
	}
	for k, o := range c.Offsets {
		if err := putOrDelete(offsets, encodeOffsetKey(k), o, o == nil); err != nil {
			return fmt.Errorf("offset %s/%s/%d: %w", k.Group, k.Topic, k.Partition, err)
		}
	}
	groups := tx.Bucket(bucketGroups)
	for name, g := range c.Groups {
		if err := putOrDelete(groups, groupKey(name), g, g == nil); err != nil {
			return fmt.Errorf("group %q: %w", name, err)
		}
	}
	return nil
}

// deletePrefix deletes every key starting with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// purgeTopics deletes the offsets of deleted topics. It scans every offset: topic
// deletion is rare and the key leads with the group.
func purgeTopics(b *bolt.Bucket, topics map[string]bool) error {
	var keys [][]byte
	err := b.ForEach(func(k, _ []byte) error {
		if ok, valid := decodeOffsetKey(k); valid && topics[ok.Topic] {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan offsets: %w", err)
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("purge offsets of deleted topics: %w", err)
		}
	}
	return nil
}

// LoadGroups returns every stored group, sorted by name: the groups with a record, and a
// bare record (name only) for each group that only has committed offsets.
func (s *Store) LoadGroups() ([]*GroupRecord, error) {
	byName := map[string]*GroupRecord{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
			g := new(GroupRecord)
			if err := json.Unmarshal(v, g); err != nil {
				return fmt.Errorf("decode group %q: %w", k[1:], err)
			}
			byName[g.Name] = g
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketOffsets).ForEach(func(k, _ []byte) error {
			ok, valid := decodeOffsetKey(k)
			if !valid {
				return fmt.Errorf("malformed offset key %x", k)
			}
			if byName[ok.Group] == nil {
				byName[ok.Group] = &GroupRecord{Name: ok.Group}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load groups from %s: %w", s.path, err)
	}
	out := make([]*GroupRecord, 0, len(byName))
	for _, g := range byName {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LoadGroup returns the stored record of one group, or nil if it has none.
func (s *Store) LoadGroup(name string) (*GroupRecord, error) {
	var g *GroupRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketGroups).Get(groupKey(name))
		if v == nil {
			return nil
		}
		g = new(GroupRecord)
		return json.Unmarshal(v, g)
	})
	if err != nil {
		return nil, fmt.Errorf("load group %q from %s: %w", name, s.path, err)
	}
	return g, nil
}

// LoadOffsets returns a group's committed offsets sorted by topic and partition.
func (s *Store) LoadOffsets(group string) ([]CommittedOffset, error) {
	var out []CommittedOffset
	prefix := encodeGroupPrefix(group)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOffsets).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			ok, valid := decodeOffsetKey(k)
			if !valid || ok.Group != group {
				return fmt.Errorf("malformed offset key %x", k)
			}
			var o CommittedOffset
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode offset %s/%d: %w", ok.Topic, ok.Partition, err)
			}
			o.Topic, o.Partition = ok.Topic, ok.Partition
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load offsets of group %q from %s: %w", group, s.path, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}
