package batch

import (
	"encoding/binary"
	"fmt"
)

// minBatchLength is the smallest batchLength that reaches the magic byte; anything shorter
// cannot be framed at all, whatever its format.
const minBatchLength = offMagic + 1 - lengthFieldEnd

// Split cuts a produce payload of concatenated batches into one slice per batch, using only
// the length fields. The slices alias records (with their capacity clipped, so appending to
// one cannot overwrite the next). Each batch still needs Validate. A trailing partial batch
// is ErrCorrupt; an empty payload yields no batches.
func Split(records []byte) ([][]byte, error) {
	var batches [][]byte
	for pos := 0; pos < len(records); {
		rest := len(records) - pos
		if rest < lengthFieldEnd {
			return nil, fmt.Errorf("%w: %d trailing bytes at byte %d, too few for a batch header", ErrCorrupt, rest, pos)
		}
		length := int32(binary.BigEndian.Uint32(records[pos+offBatchLength:]))
		if length < minBatchLength {
			return nil, fmt.Errorf("%w: batch length %d at byte %d", ErrCorrupt, length, pos)
		}
		size := int(length) + lengthFieldEnd
		if size > rest {
			return nil, fmt.Errorf("%w: partial batch at byte %d: %d bytes declared, %d present", ErrCorrupt, pos, size, rest)
		}
		batches = append(batches, records[pos:pos+size:pos+size])
		pos += size
	}
	return batches, nil
}
