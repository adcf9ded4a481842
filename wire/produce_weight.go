package wire

import "encoding/binary"

// produceEntryWeight is what the handling of one partition entry of a Produce holds
// beyond its bytes on the wire: the decoded request's and the response's structs, the
// append's bookkeeping, the encoded answer. A 96 MB Produce of twelve million entries
// without records (8 bytes each) took the node to 5.2 GB, some 430 bytes an entry.
const produceEntryWeight = 400

// weighProduce is the room a Produce frame (the bytes after the size prefix) takes in the
// request budget while it is handled: its size plus produceEntryWeight for each partition
// entry it carries. A Produce's records are held as sent, so one that carries real
// batches weighs about its size; one naming millions of partitions with few or no
// records in each weighs what handling them holds. Any other frame, or one that cannot
// be walked (the decoder refuses it), weighs its size.
func weighProduce(frame []byte) int {
	entries, ok := produceEntries(frame)
	if !ok {
		return len(frame)
	}
	return len(frame) + entries*produceEntryWeight
}

// produceEntries counts the partition entries of a Produce request frame by walking its
// wire format, without decoding or allocating; ok is false for any other request, or
// one that does not parse.
func produceEntries(frame []byte) (n int, ok bool) {
	const produceKey = 0
	h, rest, err := parseRequestHeader(frame)
	if err != nil || h.key != produceKey || h.version < 3 {
		return 0, false
	}
	w := wireWalk{b: rest, flexible: h.version >= 9}
	if w.flexible {
		if w.b, err = skipTaggedFields(w.b); err != nil {
			return 0, false
		}
	}
	w.lengthPrefixed(2) // transactional id
	w.skip(2 + 4)       // acks, timeout
	for topics := w.arrayLen(); topics > 0 && !w.failed; topics-- {
		if h.version >= 13 {
			w.skip(16) // topic id
		} else {
			w.lengthPrefixed(2) // topic name
		}
		for partitions := w.arrayLen(); partitions > 0 && !w.failed; partitions-- {
			w.skip(4)           // partition
			w.lengthPrefixed(4) // records
			w.tags()
			n++
		}
		w.tags()
	}
	return n, !w.failed
}

// wireWalk steps over Kafka protocol fields, classic or flexible (compact lengths and
// tagged fields), checking every length against what is left; failed turns true at the
// first field that does not fit, and every later step is a no-op.
type wireWalk struct {
	b        []byte
	flexible bool
	failed   bool
}

func (w *wireWalk) skip(n int) {
	if w.failed {
		return
	}
	if n < 0 || n > len(w.b) {
		w.failed = true
		return
	}
	w.b = w.b[n:]
}

// length reads a classic length of width bytes (2 or 4; negative means null) or a
// compact one (uvarint of length+1; 0 means null) and returns it, -1 for null.
func (w *wireWalk) length(width int) int {
	if w.failed {
		return -1
	}
	if w.flexible {
		v, rest, err := readUvarint(w.b)
		if err != nil {
			w.failed = true
			return -1
		}
		w.b = rest
		return int(v) - 1
	}
	if len(w.b) < width {
		w.failed = true
		return -1
	}
	var v int
	if width == 2 {
		v = int(int16(binary.BigEndian.Uint16(w.b)))
	} else {
		v = int(int32(binary.BigEndian.Uint32(w.b)))
	}
	w.b = w.b[width:]
	return max(v, -1)
}

// lengthPrefixed skips a nullable string (width 2) or bytes (width 4).
func (w *wireWalk) lengthPrefixed(width int) {
	if n := w.length(width); n > 0 {
		w.skip(n)
	}
}

// arrayLen reads an array's length (a null array has none).
func (w *wireWalk) arrayLen() int { return max(w.length(4), 0) }

// tags skips a tagged-field section, which only flexible versions have.
func (w *wireWalk) tags() {
	if !w.flexible || w.failed {
		return
	}
	rest, err := skipTaggedFields(w.b)
	if err != nil {
		w.failed = true
		return
	}
	w.b = rest
}
