// Package codec decompresses and compresses the records section of a record batch. The
// broker decompresses a produced batch to check it (its records, their timestamps, their
// keys on compacted topics) and a stored one to find a record inside it; a few kilobytes
// of zstd or gzip can expand to gigabytes, so every decompression says how much it is
// prepared to hold. It compresses only for a topic whose compression.type names a codec.
package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// The codec numbers of a batch's attributes (the low three bits).
const (
	None   int8 = 0
	Gzip   int8 = 1
	Snappy int8 = 2
	LZ4    int8 = 3
	Zstd   int8 = 4
)

// ErrTooLarge: the records would decompress to more than the caller's limit. Nothing is
// wrong with the batch as far as is known; the caller decides what to do without its records.
var ErrTooLarge = errors.New("records decompress to more than the limit")

// Decompressor decompresses records sections, reusing decoders and output buffers across
// calls. It is safe for concurrent use; one per node is enough.
type Decompressor struct {
	gzips  sync.Pool // *gzip.Reader
	lz4s   sync.Pool // *lz4.Reader
	zstds  sync.Pool // *zstd.Decoder
	bufs   sync.Pool // *[]byte: output buffers handed back through Release
	srcs   sync.Pool // *bytes.Reader
	maxBuf int       // buffers larger than this are not kept for reuse
	// slots bounds how many decompressions run at once, and so the memory they grow
	// into: every partition of a node may be decompressing a batch at the same moment,
	// and each may grow to its limit. The work is CPU-bound, so a few slots per core
	// lose no throughput.
	slots chan struct{}
}

// NewDecompressor returns a Decompressor that runs at most concurrency decompressions at
// once (callers beyond that wait) and keeps output buffers of up to keepBytes for reuse;
// larger ones (rare, and only as large as some call's limit) are left to the GC.
func NewDecompressor(keepBytes, concurrency int) *Decompressor {
	return &Decompressor{maxBuf: keepBytes, slots: make(chan struct{}, max(1, concurrency))}
}

// Decompress returns src, the records section of a batch compressed with codec, decompressed.
// It fails with ErrTooLarge when the output would exceed limit bytes, and with another error
// when src is not valid data for the codec or the codec is unknown (None included: there is
// nothing to decompress). The returned slice may come from a reused buffer: hand it back
// with Release once done with it, and not after.
func (d *Decompressor) Decompress(codec int8, src []byte, limit int) ([]byte, error) {
	d.slots <- struct{}{}
	defer func() { <-d.slots }()
	dst := d.buffer()
	out, err := d.decompress(codec, src, dst, limit)
	if err != nil {
		d.Release(dst)
		return nil, err
	}
	return out, nil
}

// Release hands back a slice Decompress returned, for reuse.
func (d *Decompressor) Release(b []byte) {
	if cap(b) == 0 || cap(b) > d.maxBuf {
		return
	}
	b = b[:0]
	d.bufs.Put(&b)
}

func (d *Decompressor) buffer() []byte {
	if p, ok := d.bufs.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return nil
}

func (d *Decompressor) decompress(codec int8, src, dst []byte, limit int) ([]byte, error) {
	switch codec {
	case Snappy:
		if bytes.HasPrefix(src, xerialMagic) {
			return unxerial(dst, src, limit)
		}
		return unsnappy(dst, src, limit)
	case Gzip, LZ4, Zstd:
		return d.inflate(codec, src, dst, limit, codecName(codec))
	}
	return nil, fmt.Errorf("no decompression for codec %d", codec)
}

// unsnappy decodes a raw snappy block (what franz-go, librdkafka and Sarama send). The
// block declares its decoded length up front, so the limit is checked before decoding.
func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("snappy block of %d bytes: %w", n, ErrTooLarge)
	}
	out, err := s2.Decode(dst[:cap(dst)], src)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	return out, nil
}

// xerialMagic starts snappy data in the Java client's framed ("xerial") format: a 16-byte
// header (this magic, then two int32 versions), then chunks each prefixed by a big-endian
// int32 length.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func unxerial(dst, src []byte, limit int) ([]byte, error) {
	const headerLen = 16
	if len(src) < headerLen {
		return nil, errors.New("xerial snappy: short header")
	}
	out := dst[:0]
	for rest := src[headerLen:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, errors.New("xerial snappy: truncated chunk length")
		}
		n := binary.BigEndian.Uint32(rest)
		if int64(n) > int64(len(rest)-4) {
			return nil, fmt.Errorf("xerial snappy: chunk of %d bytes overruns the input", n)
		}
		chunk := rest[4 : 4+n]
		size, err := s2.DecodedLen(chunk)
		if err != nil {
			return nil, fmt.Errorf("xerial snappy: %w", err)
		}
		if size > limit-len(out) {
			return nil, fmt.Errorf("xerial snappy: %w", ErrTooLarge)
		}
		start := len(out)
		out = grow(out, size)
		if _, err := s2.Decode(out[start:start+size], chunk); err != nil {
			return nil, fmt.Errorf("xerial snappy: %w", err)
		}
		rest = rest[4+n:]
	}
	return out, nil
}

// grow extends b by n bytes, reallocating when its capacity is short.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func (d *Decompressor) reader(src []byte) *bytes.Reader {
	r, ok := d.srcs.Get().(*bytes.Reader)
	if !ok {
		r = new(bytes.Reader)
	}
	r.Reset(src)
	return r
}

// open returns a reader of src decompressed with a streaming codec (gzip, LZ4, zstd) and
// the function that hands its decoder back for reuse once the reader is done with.
func (d *Decompressor) open(codec int8, src []byte) (io.Reader, func(), error) {
	in := d.reader(src)
	switch codec {
	case Gzip:
		zr, ok := d.gzips.Get().(*gzip.Reader)
		var err error
		if ok {
			err = zr.Reset(in)
		} else {
			zr, err = gzip.NewReader(in)
		}
		if err != nil {
			d.srcs.Put(in)
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { d.gzips.Put(zr); d.srcs.Put(in) }, nil
	case LZ4:
		zr, ok := d.lz4s.Get().(*lz4.Reader)
		if !ok {
			zr = lz4.NewReader(nil)
		}
		zr.Reset(in)
		return zr, func() { d.lz4s.Put(zr); d.srcs.Put(in) }, nil
	case Zstd:
		zr, ok := d.zstds.Get().(*zstd.Decoder)
		if !ok {
			var err error
			// A synchronous decoder (concurrency 1 starts no goroutines). Its window is
			// bounded: a frame declaring a larger one is answered ErrTooLarge before the
			// decoder allocates it. Producers' frames use windows of a few MiB.
			zr, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxZstdWindow))
			if err != nil {
				d.srcs.Put(in)
				return nil, nil, fmt.Errorf("zstd: %w", err)
			}
		}
		if err := zr.Reset(in); err != nil {
			d.zstds.Put(zr)
			d.srcs.Put(in)
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, func() { d.zstds.Put(zr); d.srcs.Put(in) }, nil
	}
	d.srcs.Put(in)
	return nil, nil, fmt.Errorf("no decompression for codec %d", codec)
}

func (d *Decompressor) inflate(codec int8, src, dst []byte, limit int, name string) ([]byte, error) {
	r, done, err := d.open(codec, src)
	if err != nil {
		return nil, err
	}
	defer done()
	out, err := readLimited(dst, r, limit, name)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return out, err
}

// Stream calls fn with a reader of src, the records section of a batch compressed with
// codec, decompressed. The reader fails with ErrTooLarge once more than limit bytes have
// come out of it, and with another error when src is not valid data for the codec. Unlike
// Decompress it holds only the decoder's state, not the output, so a caller that walks
// the records once (a lookup by timestamp inside a batch) needs memory independent of how
// far the batch inflates; limit bounds the work. A raw snappy block, which does not
// stream, is decompressed whole first (its size is declared up front and checked against
// limit). The reader is valid only during fn.
func (d *Decompressor) Stream(codec int8, src []byte, limit int, fn func(io.Reader) error) error {
	d.slots <- struct{}{}
	defer func() { <-d.slots }()
	if codec == Snappy {
		out, err := d.decompress(codec, src, d.buffer(), limit)
		if err != nil {
			return err
		}
		defer d.Release(out)
		return fn(bytes.NewReader(out))
	}
	r, done, err := d.open(codec, src)
	if err != nil {
		return err
	}
	defer done()
	return fn(&boundedReader{r: r, limit: int64(limit), name: codecName(codec)})
}

// boundedReader fails with ErrTooLarge once more than limit bytes have been read.
type boundedReader struct {
	r     io.Reader
	n     int64
	limit int64
	name  string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.limit:
		return n, fmt.Errorf("%s: %w", b.name, ErrTooLarge)
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		return n, fmt.Errorf("%s: %w: %w", b.name, ErrTooLarge, err)
	case err != nil && err != io.EOF:
		return n, fmt.Errorf("%s: %w", b.name, err)
	}
	return n, err
}

func codecName(codec int8) string {
	switch codec {
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec %d", codec)
}

// maxZstdWindow bounds the history a zstd frame may ask the decoder to keep.
const maxZstdWindow = 64 << 20

// readLimited reads r to its end into dst, failing with ErrTooLarge past limit bytes. The
// buffer doubles as it fills but never past limit+1 bytes (one more than may be held, to
// see that the data goes on): growing it as bytes.Buffer does, to twice what it holds, made
// a call at a 32 MiB limit hold 64 MiB and allocate 128 MiB on the way.
func readLimited(dst []byte, r io.Reader, limit int, name string) ([]byte, error) {
	const firstChunk = 64 << 10
	out := dst[:0]
	for {
		if len(out) == cap(out) {
			if len(out) > limit {
				return nil, fmt.Errorf("%s: %w", name, ErrTooLarge)
			}
			nb := make([]byte, len(out), min(max(2*cap(out), firstChunk), limit+1))
			copy(nb, out)
			out = nb
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		switch {
		case len(out) > limit:
			return nil, fmt.Errorf("%s: %w", name, ErrTooLarge)
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
}
