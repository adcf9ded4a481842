package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/chronik/chronik-node/raftnode/storage"
)

// storeDamage is a bbolt file found damaged at start: cut short, or pages that do not
// check out. bbolt does not return an error for a damaged page; it panics when it reads
// one (a garbled meta.db killed the node with "assertion failed: Page expected to be"
// and a goroutine dump), so the pages are checked before the stores are opened.
type storeDamage struct {
	path, why string
}

func (d *storeDamage) Error() string { return d.why }

// inspectBoltFile returns a *storeDamage for a damaged bbolt file, nil for a whole or
// missing one, and another error when the file cannot be inspected.
func inspectBoltFile(path string) error {
	if err := checkBoltFile(path); err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil // another process holds it; opening the store says so
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return &storeDamage{path: path, why: fmt.Sprintf("%s is not a readable bbolt file: %v", path, err)}
	case err != nil:
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	defer db.Close()
	var found []string
	err = db.View(func(tx *bolt.Tx) error {
		// Walk every bucket and key first, here, where bbolt's panic on a damaged page can
		// be recovered: Check reads the pages too, but it first rebuilds the free list of a
		// file that does not store one (raft.db), on a goroutine of bbolt's own, where the
		// same panic would kill the process.
		if err := walkBolt(tx); err != nil {
			found = append(found, err.Error())
			return nil
		}
		// Check then finds what a walk does not: pages both used and free, or neither.
		for err := range tx.Check() {
			if len(found) < 3 {
				found = append(found, err.Error())
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if len(found) > 0 {
		return &storeDamage{path: path, why: fmt.Sprintf("%s has damaged pages: %s", path, strings.Join(found, "; "))}
	}
	return nil
}

// walkBolt reads every key of every bucket of tx, returning bbolt's panic on a damaged
// page as an error.
func walkBolt(tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil { // a nested bucket
				if sub := b.Bucket(k); sub != nil {
					walk(sub)
				}
			}
		}
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		walk(b)
		return nil
	})
}

// inspectStores checks meta.db and, with the Raft log in bbolt, raft.db before either is
// opened. The two hold the same acknowledged metadata: raft.db every committed command
// (from its last snapshot on), meta.db the state they build. So one damaged file is moved
// aside (kept, named "<file>.damaged-<stamp>", for whoever wants to look at it) and
// rebuilt from the other, the way a lost one is: a missing meta.db is replayed from
// raft.db, a missing raft.db bootstrapped from meta.db. On a single node that loses
// nothing acknowledged (what bootstrap does not keep is Raft's vote, which only a cluster
// needs). With no whole copy left, the node refuses to start and says what to do.
func inspectStores(dataDir, raftStorage string, log zerolog.Logger) error {
	meta, raft := filepath.Join(dataDir, "meta.db"), filepath.Join(dataDir, "raft.db")
	metaErr := inspectBoltFile(meta)
	var raftErr error
	if raftStorage != storage.ModeMemory {
		raftErr = inspectBoltFile(raft)
	}
	var metaDamage, raftDamage *storeDamage
	for _, err := range []error{metaErr, raftErr} {
		if err != nil && !errors.As(err, new(*storeDamage)) {
			return err
		}
	}
	errors.As(metaErr, &metaDamage)
	errors.As(raftErr, &raftDamage)
	switch {
	case metaDamage == nil && raftDamage == nil:
		return nil
	case metaDamage != nil && raftDamage != nil:
		return fmt.Errorf("%v; and %v: no whole copy of the metadata is left; restore both files from a backup", metaDamage, raftDamage)
	case metaDamage != nil && raftStorage == storage.ModeMemory:
		return fmt.Errorf("%v: with raft.storage = %q it is the only copy of the metadata; restore it from a backup, "+
			"or move it aside to start as a new node (partition directories are kept aside as strays)", metaDamage, raftStorage)
	case metaDamage != nil:
		return rebuildAside(metaDamage, raft, log)
	default:
		return rebuildAside(raftDamage, meta, log)
	}
}

// rebuildAside moves a damaged store aside so that the node rebuilds it from other, its
// whole counterpart, which must exist.
func rebuildAside(d *storeDamage, other string, log zerolog.Logger) error {
	if _, err := os.Stat(other); err != nil {
		return fmt.Errorf("%v; and %s, which would rebuild it, cannot be read: %w", d, filepath.Base(other), err)
	}
	aside := fmt.Sprintf("%s.damaged-%s", d.path, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(d.path, aside); err != nil {
		return fmt.Errorf("%v; moving it aside to rebuild it failed: %w", d, err)
	}
	log.Error().Str("damage", d.why).Str("moved_to", aside).Str("rebuilt_from", filepath.Base(other)).
		Msgf("%s is damaged: moved aside and rebuilt from %s", filepath.Base(d.path), filepath.Base(other))
	return nil
}
