package wal

import "crypto/sha256"

// keyDigest identifies a record key in the cleaner's offset map: the first 128 bits of its
// SHA-256. Kafka's cleaner keys its map by a 128-bit MD5 the same way, to bound the map's
// memory whatever the keys' sizes. Two different keys share a digest with probability
// about n²/2^129 for n keys (about 10^-27 for a million keys), and unlike MD5, SHA-256 has
// no known way to make a collision on purpose, so a producer cannot craft a key that makes
// the cleaner drop another key's records.
type keyDigest [16]byte

func digestKey(key []byte) keyDigest {
	sum := sha256.Sum256(key)
	var d keyDigest
	copy(d[:], sum[:16])
	return d
}

// offsetMap maps each key seen in the dirty part of the log to the offset of its newest
// record there. It holds at most limit keys, which bounds a clean's memory: about 70
// bytes per key with Go's map overhead.
type offsetMap struct {
	m     map[keyDigest]int64
	limit int
}

func newOffsetMap(limit int) *offsetMap {
	return &offsetMap{m: make(map[keyDigest]int64), limit: limit}
}

// put records that key's record at offset is the newest so far. Offsets come ascending.
func (m *offsetMap) put(key []byte, offset int64) { m.m[digestKey(key)] = offset }

// latest is the offset of key's newest record in the map.
func (m *offsetMap) latest(key []byte) (int64, bool) {
	off, ok := m.m[digestKey(key)]
	return off, ok
}

// room reports whether n more keys surely fit.
func (m *offsetMap) room(n int) bool { return len(m.m)+n <= m.limit }
