package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// The parts of bbolt's on-disk meta page (go.etcd.io/bbolt internal/common/meta.go) that
// checkBoltFile reads. Each of the first two pages holds one; the valid one with the
// higher transaction id is current. Fields are in the machine's byte order (little
// endian on every platform this broker is built for).
const (
	boltPageHeader  = 16 // page id, flags, count, overflow
	boltMetaSum     = 56 // bytes of the meta struct covered by its checksum
	boltMetaSize    = 64
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltMinPageSize = 1024
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high water mark: pages in use
	txid     uint64
}

// checkBoltFile refuses a bbolt file shorter than its current meta page says it is.
// bbolt maps the file into memory and reads the missing pages as memory, which kills the
// process with SIGBUS and a goroutine dump (a truncated meta.db or raft.db did) instead
// of returning an error. A missing file passes (bbolt creates it); a file whose meta
// pages do not check out passes too, for bbolt to report.
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	current, ok := readBoltMeta(f, 0)
	if ok {
		if second, ok := readBoltMeta(f, int64(current.pageSize)); ok && second.txid > current.txid {
			current = second
		}
	} else if current, ok = readBoltMeta(f, 4096); !ok { // the first page is damaged: try the usual page size
		return nil
	}
	if need := int64(current.pgid) * int64(current.pageSize); fi.Size() < need {
		return &storeDamage{path: path, why: fmt.Sprintf("%s is %d bytes, but its last commit (transaction %d) uses %d: the file was truncated or damaged",
			path, fi.Size(), current.txid, need)}
	}
	return nil
}

// readBoltMeta reads and validates the meta page at off.
func readBoltMeta(r io.ReaderAt, off int64) (boltMeta, bool) {
	var b [boltMetaSize]byte
	if _, err := r.ReadAt(b[:], off+boltPageHeader); err != nil {
		return boltMeta{}, false
	}
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(b[:boltMetaSum])
	m := boltMeta{pageSize: le.Uint32(b[8:]), pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion || le.Uint64(b[56:]) != h.Sum64() || m.pageSize < boltMinPageSize {
		return boltMeta{}, false
	}
	return m, true
}
