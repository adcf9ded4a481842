package metastore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this code reads and writes. A store written by another
// version is refused at Open instead of being misread.
const SchemaVersion = 1

var (
	bucketMeta          = []byte("meta")
	bucketBrokers       = []byte("brokers")
	bucketTopics        = []byte("topics")
	bucketBrokerConfigs = []byte("broker_configs")

	keySchema         = []byte("schema")
	keyApplied        = []byte("applied") // index (8) + term (8)
	keyConfState      = []byte("conf_state")
	keyClusterID      = []byte("cluster_id")
	keyNextProducerID = []byte("next_producer_id")

	allBuckets = [][]byte{bucketMeta, bucketBrokers, bucketTopics, bucketBrokerConfigs}
)

// brokerConfigPrefix keeps broker config keys non-empty: bbolt refuses an empty key and
// the cluster-wide default resource is named "".
const brokerConfigPrefix = "resource:"

// ErrSchemaMismatch is returned by Open for a store written with another schema version.
var ErrSchemaMismatch = errors.New("metadata store schema version mismatch")

// Store is the durable metadata store. Each Commit is one fsynced bbolt transaction.
type Store struct {
	db   *bolt.DB
	path string
}

// Options tune the store; the zero value is right for production.
type Options struct {
	// NoSync skips fsync on commit. Only for tests and benchmarks that measure something else.
	NoSync bool
}

// lockTimeout bounds the wait for bbolt's file lock, which another process holding the
// store keeps for as long as it runs.
const lockTimeout = 2 * time.Second

// Open opens (creating if needed) the store at path and checks its schema version.
func Open(path string, opts Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, NoSync: opts.NoSync, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		// bbolt's own message is a bare "timeout": say whose lock it waited for.
		return nil, fmt.Errorf("open metadata store %s: locked by another process (is another node running on this data dir?): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open metadata store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := db.Update(s.initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) initSchema(tx *bolt.Tx) error {
	for _, name := range slices.Concat(allBuckets, groupBuckets) {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchema)
	if v == nil {
		return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
	}
	got, err := strconv.Atoi(string(v))
	if err != nil || got != SchemaVersion {
		return fmt.Errorf("%w: store has %q, this binary reads %d", ErrSchemaMismatch, v, SchemaVersion)
	}
	return nil
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Applied returns the Raft index and term the store reflects (0, 0 for a new store).
func (s *Store) Applied() (index, term uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		index, term = decodeApplied(tx.Bucket(bucketMeta).Get(keyApplied))
		return nil
	})
	return index, term, err
}

// Load reads the whole image.
func (s *Store) Load() (*Image, error) {
	img := NewImage()
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		img.Index, img.Term = decodeApplied(meta.Get(keyApplied))
		if v := meta.Get(keyConfState); v != nil {
			if err := json.Unmarshal(v, &img.ConfState); err != nil {
				return fmt.Errorf("decode conf state: %w", err)
			}
		}
		img.ClusterID = string(meta.Get(keyClusterID))
		if v := meta.Get(keyNextProducerID); len(v) == 8 {
			img.NextProducerID = int64(binary.BigEndian.Uint64(v))
		}
		if err := tx.Bucket(bucketBrokers).ForEach(func(k, v []byte) error {
			var b Broker
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("decode broker %x: %w", k, err)
			}
			img.Brokers[b.ID] = b
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTopics).ForEach(func(k, v []byte) error {
			t := new(Topic)
			if err := json.Unmarshal(v, t); err != nil {
				return fmt.Errorf("decode topic %q: %w", k, err)
			}
			img.Topics[t.Name] = t
			img.TopicIDs[t.ID] = t.Name
			if m, ok := MetricName(t.Name); ok {
				img.MetricNames[m] = t.Name
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketBrokerConfigs).ForEach(func(k, v []byte) error {
			m := map[string]string{}
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode broker configs %q: %w", k, err)
			}
			img.BrokerConfigs[strings.TrimPrefix(string(k), brokerConfigPrefix)] = m
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load metadata from %s: %w", s.path, err)
	}
	return img, nil
}

// Changes is what one batch of applied commands changed. A nil map value deletes the key.
type Changes struct {
	Index, Term    uint64
	ConfState      *ConfState
	ClusterID      *string
	NextProducerID *int64
	Brokers        map[int32]*Broker
	Topics         map[string]*Topic
	BrokerConfigs  map[string]map[string]string
	// Groups is consumer group state (committed offsets, group records); nil when the
	// batch changed none.
	Groups *GroupChanges
}

// Commit writes c and the applied index and term in one transaction.
func (s *Store) Commit(c *Changes) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return writeChanges(tx, c) })
	if err != nil {
		return fmt.Errorf("commit metadata at index %d: %w", c.Index, err)
	}
	return nil
}

func writeChanges(tx *bolt.Tx, c *Changes) error {
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyApplied, encodeApplied(c.Index, c.Term)); err != nil {
		return err
	}
	if c.ConfState != nil {
		if err := putJSON(meta, keyConfState, c.ConfState); err != nil {
			return err
		}
	}
	if c.ClusterID != nil {
		if err := meta.Put(keyClusterID, []byte(*c.ClusterID)); err != nil {
			return err
		}
	}
	if c.NextProducerID != nil {
		if err := meta.Put(keyNextProducerID, binary.BigEndian.AppendUint64(nil, uint64(*c.NextProducerID))); err != nil {
			return err
		}
	}
	brokers := tx.Bucket(bucketBrokers)
	for id, b := range c.Brokers {
		key := binary.BigEndian.AppendUint32(nil, uint32(id))
		if err := putOrDelete(brokers, key, b, b == nil); err != nil {
			return err
		}
	}
	topics := tx.Bucket(bucketTopics)
	for name, t := range c.Topics {
		if err := putOrDelete(topics, []byte(name), t, t == nil); err != nil {
			return err
		}
	}
	configs := tx.Bucket(bucketBrokerConfigs)
	for name, m := range c.BrokerConfigs {
		if err := putOrDelete(configs, []byte(brokerConfigPrefix+name), m, m == nil); err != nil {
			return err
		}
	}
	return writeGroupChanges(tx, c.Groups)
}

// Replace overwrites the whole store with img (installing a Raft snapshot). Consumer
// group state is kept: snapshots do not carry it (see groupBuckets).
func (s *Store) Replace(img *Image) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets[1:] {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("clear bucket %s: %w", name, err)
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return writeChanges(tx, FullChanges(img))
	})
	if err != nil {
		return fmt.Errorf("replace metadata with image at index %d: %w", img.Index, err)
	}
	return nil
}

// FullChanges describes img as a change set that writes every record.
func FullChanges(img *Image) *Changes {
	cs := img.ConfState
	cid := img.ClusterID
	npid := img.NextProducerID
	c := &Changes{
		Index: img.Index, Term: img.Term, ConfState: &cs, ClusterID: &cid, NextProducerID: &npid,
		Brokers:       make(map[int32]*Broker, len(img.Brokers)),
		Topics:        img.Topics,
		BrokerConfigs: img.BrokerConfigs,
	}
	for id, b := range img.Brokers {
		c.Brokers[id] = &b
	}
	return c
}

func putOrDelete(b *bolt.Bucket, key []byte, v any, del bool) error {
	if del {
		return b.Delete(key)
	}
	return putJSON(b, key, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, data)
}

func encodeApplied(index, term uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, index)
	return binary.BigEndian.AppendUint64(b, term)
}

func decodeApplied(v []byte) (index, term uint64) {
	if len(v) != 16 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
}

// EncodeImage serialises an image for a Raft snapshot.
func EncodeImage(img *Image) ([]byte, error) {
	data, err := json.Marshal(img)
	if err != nil {
		return nil, fmt.Errorf("encode image at index %d: %w", img.Index, err)
	}
	return data, nil
}

// DecodeImage is the inverse of EncodeImage.
func DecodeImage(data []byte) (*Image, error) {
	img := NewImage()
	if err := json.Unmarshal(data, img); err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	if img.Brokers == nil {
		img.Brokers = map[int32]Broker{}
	}
	if img.Topics == nil {
		img.Topics = map[string]*Topic{}
	}
	if img.BrokerConfigs == nil {
		img.BrokerConfigs = map[string]map[string]string{}
	}
	img.reindexTopicIDs()
	return img, nil
}
