package wire

import (
	"bytes"
	"encoding/binary"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Fetch response is mostly records, which the partition actors read from their logs into
// pooled buffers (Request.Buffer). Encoding them into the frame copied every record once
// more (a fifth of the broker's CPU when consuming), so large record sets stay where they
// are: the frame holds everything else, and the writer sends frame pieces and record
// buffers in order with one writev.
//
// kmsg still encodes the response, every version and tagged field as it always does, but
// with each large record set replaced by a 16-byte marker. Only the record set's length
// prefix, whose format is fixed (int32 before v12, uvarint of length+1 from v12 on), is
// rewritten where the marker is cut out.

// vectorMinRecords is the smallest record set left out of the frame: smaller ones are
// cheaper to copy than to give an iovec of their own.
const vectorMinRecords = 16 << 10

const markerSize = 16

// fetchMarker is the stand-in for record set i: nonce (random per server, so that no topic
// name or other field can be mistaken for it) and i.
func fetchMarker(dst []byte, nonce uint64, i int) []byte {
	dst = binary.BigEndian.AppendUint64(dst, nonce)
	return binary.BigEndian.AppendUint64(dst, uint64(i))
}

// appendRecordsLength appends the length prefix of a non-null record set of n bytes.
func appendRecordsLength(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// encodeFetchVectored encodes resp as a response frame (size, correlation id, header, body)
// into dst with its large record sets left out, and returns the frame's pieces to write in
// order: slices of frame, length prefixes and the record buffers themselves; size is their
// total length. ok is false when no record set is large enough to be worth it (or, which
// tests rule out, a marker could not be found): the caller encodes the usual way. resp is
// unchanged when it returns.
func encodeFetchVectored(dst []byte, correlationID int32, resp *kmsg.FetchResponse, nonce uint64) (frame []byte, pieces net.Buffers, size int, ok bool) {
	type hole struct {
		p       *kmsg.FetchResponseTopicPartition
		records []byte
	}
	var holes []hole
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			if p := &resp.Topics[ti].Partitions[pi]; len(p.RecordBatches) >= vectorMinRecords {
				holes = append(holes, hole{p: p, records: p.RecordBatches})
			}
		}
	}
	if len(holes) == 0 {
		return dst, nil, 0, false
	}
	markers := make([]byte, 0, markerSize*len(holes))
	for i, h := range holes {
		markers = fetchMarker(markers, nonce, i)
		h.p.RecordBatches = markers[i*markerSize : (i+1)*markerSize]
	}
	start := len(dst)
	frame = appendResponse(dst, correlationID, resp)
	for _, h := range holes {
		h.p.RecordBatches = h.records
	}

	// A marker is found by searching, so its nonce must occur nowhere else: a record set
	// is never in the frame, and every other field would have to contain these exact
	// eight random bytes.
	if bytes.Count(frame[start:], markers[:8]) != len(holes) {
		return frame[:start], nil, 0, false
	}

	flexible := resp.Version >= 12
	markerPrefix := appendRecordsLength(nil, markerSize, flexible)
	// Room for every prefix up front: pieces alias it, so it must never grow.
	prefixes := make([]byte, 0, binary.MaxVarintLen64*len(holes)+4*len(holes))
	pieces = make(net.Buffers, 0, 3*len(holes)+1)
	size = len(frame) - start
	pos := start
	for i, h := range holes {
		marker := markers[i*markerSize : (i+1)*markerSize]
		at := bytes.Index(frame[pos:], marker)
		if at < 0 {
			return frame[:start], nil, 0, false
		}
		at += pos
		prefixAt := at - len(markerPrefix)
		if prefixAt < pos || !bytes.Equal(frame[prefixAt:at], markerPrefix) {
			return frame[:start], nil, 0, false
		}
		p := len(prefixes)
		prefixes = appendRecordsLength(prefixes, len(h.records), flexible)
		pieces = append(pieces, frame[pos:prefixAt], prefixes[p:], h.records)
		size += len(prefixes) - p + len(h.records) - len(markerPrefix) - markerSize
		pos = at + markerSize
	}
	pieces = append(pieces, frame[pos:])
	binary.BigEndian.PutUint32(frame[start:], uint32(size-4))
	return frame, pieces, size, true
}
