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

// Levels are the compression levels of a topic (KIP-390's compression.gzip.level,
// compression.lz4.level and compression.zstd.level; Kafka's defaults are -1, the codec's
// own, 9 and 3). Snappy has one level.
type Levels struct {
	Gzip int // -1 (default) or 1-9
	LZ4  int // 1-17: 9 is LZ4's fast compressor, any other its high-compression mode
	Zstd int // zstd's levels, mapped onto the encoder's four speeds
}

// DefaultLevels are Kafka's defaults.
func DefaultLevels() Levels { return Levels{Gzip: -1, LZ4: defaultLZ4Level, Zstd: 3} }

// defaultLZ4Level is Kafka's compression.lz4.level default. Kafka writes it with lz4-java's
// fast compressor (the speed its brokers always had) and every other level with the
// high-compression one at that level.
const defaultLZ4Level = 9

// lz4Level maps a Kafka lz4 level onto the encoder's: the fast compressor for the
// default, high compression at that depth for 1-8, and the encoder's deepest, 9, for
// lz4-java's 10-17, which it does not have.
func lz4Level(level int) lz4.CompressionLevel {
	switch {
	case level == defaultLZ4Level || level < 1:
		return lz4.Fast
	case level > 9:
		return lz4.Level9
	}
	return lz4.Level1 << (level - 1)
}

// Compressor compresses records sections the way Kafka clients do, for a topic whose
// compression.type names a codec: the broker then rewrites every batch in it, as Kafka's
// does. Gzip and LZ4 write frames (LZ4 in 64 KiB blocks, Kafka's own choice), snappy a raw
// block (what franz-go and librdkafka send; every client reads it), zstd one frame. It is
// safe for concurrent use.
type Compressor struct {
	gzips       [10]sync.Pool // *gzip.Writer, by level: index 0 is the default (-1)
	lz4s        sync.Pool     // *lz4.Writer
	concurrency int

	mu    sync.Mutex
	zstds map[zstd.EncoderLevel]*zstd.Encoder // made on first use of a speed
}

// NewCompressor returns a Compressor whose zstd encoders each run at most concurrency
// frames at once (further calls wait).
func NewCompressor(concurrency int) *Compressor {
	return &Compressor{concurrency: max(1, concurrency), zstds: map[zstd.EncoderLevel]*zstd.Encoder{}}
}

// Compress appends src compressed with codec at levels to dst and returns the result.
// None is not a codec to compress with: the caller stores the records as they are.
func (c *Compressor) Compress(codec int8, levels Levels, src, dst []byte) ([]byte, error) {
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
		enc, err := c.zstdEncoder(zstd.EncoderLevelFromZstd(levels.Zstd))
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(src, dst), nil
	case Gzip:
		level := levels.Gzip
		if level < 1 || level > 9 {
			level = gzip.DefaultCompression
		}
		pool := &c.gzips[max(level, 0)]
		buf := bytes.NewBuffer(dst)
		w, ok := pool.Get().(*gzip.Writer)
		if ok {
			w.Reset(buf)
		} else {
			var err error
			if w, err = gzip.NewWriterLevel(buf, level); err != nil {
				return nil, fmt.Errorf("gzip level %d: %w", level, err)
			}
		}
		defer pool.Put(w)
		return finish(buf, w, src, "gzip")
	case LZ4:
		buf := bytes.NewBuffer(dst)
		w, ok := c.lz4s.Get().(*lz4.Writer)
		if !ok {
			w = lz4.NewWriter(nil)
		}
		w.Reset(buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb), lz4.CompressionLevelOption(lz4Level(levels.LZ4))); err != nil {
			return nil, fmt.Errorf("lz4 level %d: %w", levels.LZ4, err)
		}
		defer c.lz4s.Put(w)
		return finish(buf, w, src, "lz4")
	}
	return nil, fmt.Errorf("no compression for codec %d", codec)
}

// zstdEncoder returns the encoder for a speed, making it on first use: most topics never
// ask for zstd, and each encoder holds its window's memory.
func (c *Compressor) zstdEncoder(speed zstd.EncoderLevel) (*zstd.Encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if enc := c.zstds[speed]; enc != nil {
		return enc, nil
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(c.concurrency), zstd.WithEncoderLevel(speed))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder (%s): %w", speed, err)
	}
	c.zstds[speed] = enc
	return enc, nil
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
