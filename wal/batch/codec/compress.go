package codec

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compressor compresses records sections the way Kafka clients do, for a topic whose
// compression.type names a codec: the broker then rewrites every batch in it, as Kafka's
// does. Gzip and LZ4 write frames (LZ4 in 64 KiB blocks, Kafka's own choice), snappy a raw
// block (what franz-go and librdkafka send; every client reads it), zstd one frame at the
// default level. It is safe for concurrent use.
type Compressor struct {
	gzips sync.Pool // *gzip.Writer
	lz4s  sync.Pool // *lz4.Writer
	zstd  *zstd.Encoder
}

// NewCompressor returns a Compressor whose zstd encoder runs at most concurrency frames at
// once (further calls wait).
func NewCompressor(concurrency int) (*Compressor, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(max(1, concurrency)), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	return &Compressor{zstd: enc}, nil
}

// Compress appends src compressed with codec to dst and returns the result. None is not
// a codec to compress with: the caller stores the records as they are.
func (c *Compressor) Compress(codec int8, src, dst []byte) ([]byte, error) {
	switch codec {
	case Snappy:
		// Encode straight after dst's bytes, into room for the worst case.
		need := s2.MaxEncodedLen(len(src))
		if need < 0 {
			return nil, fmt.Errorf("snappy: %d bytes is too large a block", len(src))
		}
		start := len(dst)
		if cap(dst)-start < need {
			dst = append(make([]byte, 0, start+need), dst...)
		}
		enc := s2.EncodeSnappy(dst[start:start+need], src)
		return dst[:start+len(enc)], nil
	case Zstd:
		return c.zstd.EncodeAll(src, dst), nil
	case Gzip:
		buf := bytes.NewBuffer(dst)
		w, ok := c.gzips.Get().(*gzip.Writer)
		if ok {
			w.Reset(buf)
		} else {
			w = gzip.NewWriter(buf)
		}
		defer c.gzips.Put(w)
		return finish(buf, w, src, "gzip")
	case LZ4:
		buf := bytes.NewBuffer(dst)
		w, ok := c.lz4s.Get().(*lz4.Writer)
		if !ok {
			w = lz4.NewWriter(nil)
		}
		w.Reset(buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		defer c.lz4s.Put(w)
		return finish(buf, w, src, "lz4")
	}
	return nil, fmt.Errorf("no compression for codec %d", codec)
}

type frameWriter interface {
	Write([]byte) (int, error)
	Close() error
}

// finish writes src through w and closes the frame, returning what buf then holds.
func finish(buf *bytes.Buffer, w frameWriter, src []byte, name string) ([]byte, error) {
	if _, err := w.Write(src); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return buf.Bytes(), nil
}
