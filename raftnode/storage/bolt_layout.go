package storage

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// schemaVersion is the on-disk layout version (see doc.go). Bump it on any change to
// buckets, keys or value encodings; OpenBolt refuses files of another version.
const schemaVersion uint32 = 2

var (
	bucketMeta    = []byte("meta")    // keySchema
	bucketState   = []byte("state")   // keyHardState, keyCompacted, keySnapMeta
	bucketEntries = []byte("entries") // big-endian uint64 index -> protobuf raftpb.Entry
	// bucketSnapshot holds only keySnapData. It must not share a bucket with the hard
	// state: bbolt rewrites a whole leaf when one key in it changes, and the snapshot (the
	// encoded metadata image, megabytes for a large cluster) would be rewritten by every
	// Save (schema v1 did that).
	bucketSnapshot = []byte("snapshot")

	keySchema    = []byte("schema")        // big-endian uint32 schemaVersion
	keyHardState = []byte("hardstate")     // protobuf raftpb.HardState; absent until first saved
	keyCompacted = []byte("compacted")     // big-endian uint64 index, uint64 term of FirstIndex-1
	keySnapMeta  = []byte("snapshot.meta") // protobuf raftpb.SnapshotMetadata (includes the ConfState)
	keySnapData  = []byte("snapshot.data") // the state machine's snapshot bytes; absent when empty
)

func indexKey(i uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), i)
}

func keyIndex(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("entry key %x is %d bytes, want 8: %w", k, len(k), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(k), nil
}

func encodeCompacted(index, term uint64) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), index)
	return binary.BigEndian.AppendUint64(v, term)
}

func decodeCompacted(v []byte) (index, term uint64, err error) {
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("compaction point is %d bytes, want 16: %w", len(v), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), nil
}

// decodeEntry decodes the value stored under index; the copy it returns does not alias
// v (proto.Unmarshal copies bytes fields), so it outlives the transaction.
func decodeEntry(index uint64, v []byte) (*raftpb.Entry, error) {
	e := new(raftpb.Entry)
	if err := proto.Unmarshal(v, e); err != nil {
		return nil, fmt.Errorf("decode entry %d: %v: %w", index, err, ErrCorrupt)
	}
	if e.GetIndex() != index {
		return nil, fmt.Errorf("entry stored under index %d says index %d: %w", index, e.GetIndex(), ErrCorrupt)
	}
	return e, nil
}

// initOrCheckSchema creates the buckets of a new file, or checks that an existing file is
// a raft log of this schema version. A bbolt file of anything else is refused untouched.
func initOrCheckSchema(db *bolt.DB) error {
	var fresh bool
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			var foreign []string
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				foreign = append(foreign, string(name))
				return nil
			})
			if len(foreign) > 0 {
				return fmt.Errorf("no %q bucket but buckets %q: %w", bucketMeta, foreign, ErrNotRaftLog)
			}
			fresh = true
			return nil
		}
		v := meta.Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("schema key holds %d bytes, want 4: %w", len(v), ErrNotRaftLog)
		}
		if got := binary.BigEndian.Uint32(v); got != schemaVersion {
			return fmt.Errorf("file has schema version %d, this binary reads version %d: %w", got, schemaVersion, ErrSchemaMismatch)
		}
		if tx.Bucket(bucketState) == nil || tx.Bucket(bucketEntries) == nil || tx.Bucket(bucketSnapshot) == nil {
			return fmt.Errorf("schema version %d but buckets missing: %w", schemaVersion, ErrCorrupt)
		}
		return nil
	})
	if err != nil || !fresh {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketState, bucketEntries, bucketSnapshot} {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, schemaVersion))
	})
}
