// Package batch reads, checks and patches Kafka record batches (message format v2, magic 2)
// without decompressing them: the broker stores the client's records as they came and
// rewrites only header fields: the two that lie outside the CRC, and the timestamp type
// and max timestamp (then recomputing the CRC) where the topic's timestamp type says so.
//
// Layout of a v2 batch (all integers big-endian):
//
//	offset size field
//	     0    8 baseOffset
//	     8    4 batchLength           bytes that follow this field
//	    12    4 partitionLeaderEpoch  } not covered by the CRC
//	    16    1 magic (2)
//	    17    4 crc                   CRC-32C of bytes 21..end
//	    21    2 attributes            bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control
//	    23    4 lastOffsetDelta
//	    27    8 firstTimestamp
//	    35    8 maxTimestamp
//	    43    8 producerId
//	    51    2 producerEpoch
//	    53    4 baseSequence
//	    57    4 numRecords
//	    61      records
package batch

import (
	"encoding/binary"
	"fmt"
)

// HeaderSize is the size of the fixed part of a v2 batch, from baseOffset through the record
// count.
const HeaderSize = 61

// Byte positions of the header fields.
const (
	offBaseOffset           = 0
	offBatchLength          = 8
	offPartitionLeaderEpoch = 12
	offMagic                = 16
	offCRC                  = 17
	offAttributes           = 21
	offLastOffsetDelta      = 23
	offFirstTimestamp       = 27
	offMaxTimestamp         = 35
	offProducerID           = 43
	offProducerEpoch        = 51
	offBaseSequence         = 53
	offNumRecords           = 57

	// crcStart is where the CRC-covered region begins (the attributes field).
	crcStart = offAttributes
	// lengthFieldEnd is the number of bytes not counted by batchLength (baseOffset and
	// batchLength themselves).
	lengthFieldEnd = 12
)

// Compression codecs stored in attribute bits 0-2.
const (
	CodecNone   int8 = 0
	CodecGzip   int8 = 1
	CodecSnappy int8 = 2
	CodecLZ4    int8 = 3
	CodecZstd   int8 = 4
)

// Attribute bits above the codec.
const (
	AttrLogAppendTime int16 = 1 << 3
	AttrTransactional int16 = 1 << 4
	AttrControl       int16 = 1 << 5
	codecMask         int16 = 7
)

// Header is the fixed part of a v2 record batch.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the total size of the batch in bytes, header included.
func (h Header) Size() int { return int(h.BatchLength) + lengthFieldEnd }

// Compression is the codec id from attribute bits 0-2.
func (h Header) Compression() int8 { return int8(h.Attributes & codecMask) }

// LogAppendTime reports whether the batch's timestamps are broker append times.
func (h Header) LogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (h Header) Transactional() bool { return h.Attributes&AttrTransactional != 0 }

// Control reports whether the batch holds control records (transaction markers).
func (h Header) Control() bool { return h.Attributes&AttrControl != 0 }

// ParseHeader decodes the fixed header of the batch at the start of b. It checks neither the
// CRC nor the magic byte; b needs at least HeaderSize bytes.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, a batch header needs %d", ErrCorrupt, len(b), HeaderSize)
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		BatchLength:          int32(be.Uint32(b[offBatchLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offPartitionLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}, nil
}

// SetBaseOffset overwrites the base offset of the batch at the start of b. The field is
// outside the CRC, so the batch stays valid. b must hold at least HeaderSize bytes.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch overwrites the partition leader epoch of the batch at the start of
// b. The field is outside the CRC. b must hold at least HeaderSize bytes.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offPartitionLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks b (exactly one batch) as carrying broker append time ts, as a topic
// with message.timestamp.type=LogAppendTime requires: it sets the timestamp-type attribute
// and the max timestamp, which lie inside the CRC, so the CRC is recomputed.
func SetLogAppendTime(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := int16(be.Uint16(b[offAttributes:])) | AttrLogAppendTime
	be.PutUint16(b[offAttributes:], uint16(attrs))
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], Checksum(b))
}

// SetCreateTime makes the header of b (exactly one batch) say what a CreateTime topic
// stores: the CreateTime timestamp type and maxTimestamp, the newest of its records'
// timestamps. Both lie inside the CRC, which is recomputed only when one of them changed,
// so a batch whose producer got them right is not touched. It reports whether it changed b.
func SetCreateTime(b []byte, maxTimestamp int64) bool {
	be := binary.BigEndian
	attrs := int16(be.Uint16(b[offAttributes:]))
	if attrs&AttrLogAppendTime == 0 && int64(be.Uint64(b[offMaxTimestamp:])) == maxTimestamp {
		return false
	}
	be.PutUint16(b[offAttributes:], uint16(attrs&^AttrLogAppendTime))
	be.PutUint64(b[offMaxTimestamp:], uint64(maxTimestamp))
	be.PutUint32(b[offCRC:], Checksum(b))
	return true
}

// Reseal makes b, a batch header followed by a records section that replaced the
// original one, whole again: its length, its codec bits (codec: how the new records
// section is compressed) and its CRC. The broker uses it to recompress a batch for a topic
// whose compression.type names a codec; record count, offsets, timestamps and producer
// fields stay those of the header.
func Reseal(b []byte, codec int8) {
	be := binary.BigEndian
	be.PutUint32(b[offBatchLength:], uint32(len(b)-lengthFieldEnd))
	attrs := int16(be.Uint16(b[offAttributes:]))
	be.PutUint16(b[offAttributes:], uint16(attrs&^codecMask|int16(codec)&codecMask))
	be.PutUint32(b[offCRC:], Checksum(b))
}

// Checksum computes the CRC-32C the CRC field of b (exactly one batch) should hold.
func Checksum(b []byte) uint32 {
	return crc32c(b[crcStart:])
}
