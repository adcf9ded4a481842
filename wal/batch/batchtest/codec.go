package batchtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/chronik/chronik-node/wal/batch"
)

// Compress encodes a records section the way Kafka clients do: gzip and LZ4 frames, raw
// snappy blocks (what franz-go and librdkafka send) and a zstd frame.
func Compress(codec int8, src []byte) ([]byte, error) {
	switch codec {
	case batch.CodecNone:
		return src, nil
	case batch.CodecGzip:
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case batch.CodecSnappy:
		return s2.EncodeSnappy(nil, src), nil
	case batch.CodecLZ4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case batch.CodecZstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer enc.Close()
		return enc.EncodeAll(src, nil), nil
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

// xerialMagic starts snappy data in the Java client's framed ("xerial") format.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func decompress(codec int8, src []byte) ([]byte, error) {
	switch codec {
	case batch.CodecNone:
		return src, nil
	case batch.CodecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	case batch.CodecSnappy:
		if bytes.HasPrefix(src, xerialMagic) {
			return unxerial(src)
		}
		return s2.Decode(nil, src)
	case batch.CodecLZ4:
		return io.ReadAll(lz4.NewReader(bytes.NewReader(src)))
	case batch.CodecZstd:
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		return dec.DecodeAll(src, nil)
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

// unxerial decodes the Java client's snappy framing: a 16-byte header, then chunks each
// prefixed by a big-endian int32 length.
func unxerial(src []byte) ([]byte, error) {
	const headerLen = 16
	if len(src) < headerLen {
		return nil, fmt.Errorf("xerial snappy: short header")
	}
	var out []byte
	for rest := src[headerLen:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("xerial snappy: truncated chunk length")
		}
		n := int(binary.BigEndian.Uint32(rest))
		if n < 0 || n > len(rest)-4 {
			return nil, fmt.Errorf("xerial snappy: chunk of %d bytes overruns input", n)
		}
		chunk, err := s2.Decode(nil, rest[4:4+n])
		if err != nil {
			return nil, fmt.Errorf("xerial snappy: %w", err)
		}
		out = append(out, chunk...)
		rest = rest[4+n:]
	}
	return out, nil
}
