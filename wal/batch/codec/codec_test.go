package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
	"github.com/chronik/chronik-node/wal/batch/codec"
)

var codecs = []struct {
	name string
	id   int8
}{{"gzip", codec.Gzip}, {"snappy", codec.Snappy}, {"lz4", codec.LZ4}, {"zstd", codec.Zstd}}

// payload is compressible but not trivially so: what a batch of similar records looks like.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7/13) ^ byte(i>>9)
	}
	return b
}

func compress(t testing.TB, id int8, src []byte) []byte {
	t.Helper()
	out, err := batchtest.Compress(id, src)
	if err != nil {
		t.Fatalf("compress codec %d: %v", id, err)
	}
	return out
}

// xerial frames src the way the Java client's snappy does: a 16-byte header, then chunks
// each prefixed by its big-endian length.
func xerial(src []byte, chunk int) []byte {
	out := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	for len(src) > 0 {
		n := min(chunk, len(src))
		block := s2.EncodeSnappy(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		src = src[n:]
	}
	return out
}

func TestDecompressRoundTripsEveryCodecAndReusesBuffers(t *testing.T) {
	d := codec.NewDecompressor(1<<20, 2)
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			// Several sizes through one Decompressor: a reused buffer, large or small,
			// must never leak bytes of an earlier output into a later one.
			for _, n := range []int{100_000, 10, 70_000, 1} {
				want := payload(n)
				got, err := d.Decompress(c.id, compress(t, c.id, want), n)
				if err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes: output differs (got %d bytes)", n, len(got))
				}
				d.Release(got)
			}
		})
	}
	t.Run("xerial snappy", func(t *testing.T) {
		want := payload(100_000)
		got, err := d.Decompress(codec.Snappy, xerial(want, 32<<10), len(want))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, err %v; want the %d bytes back", len(got), err, len(want))
		}
	})
}

func TestDecompressRefusesOutputOverTheLimit(t *testing.T) {
	d := codec.NewDecompressor(1<<20, 2)
	const n = 50_000
	zeros := make([]byte, n) // expands ~1000x: the shape of a decompression bomb
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			src := compress(t, c.id, zeros)
			if _, err := d.Decompress(c.id, src, n-1); !errors.Is(err, codec.ErrTooLarge) {
				t.Fatalf("limit %d for %d bytes: err %v, want ErrTooLarge", n-1, n, err)
			}
			if got, err := d.Decompress(c.id, src, n); err != nil || len(got) != n {
				t.Fatalf("limit exactly %d: got %d bytes, err %v", n, len(got), err)
			}
		})
	}
	if _, err := d.Decompress(codec.Snappy, xerial(zeros, 8<<10), n-1); !errors.Is(err, codec.ErrTooLarge) {
		t.Fatalf("xerial snappy over the limit: err %v, want ErrTooLarge", err)
	}
}

// The output buffer never grows past the limit (plus the byte that shows the data goes
// on): every concurrent decompression may grow to it, and the broker's memory bound is
// the limit times the concurrency. Growing by doubling, as bytes.Buffer does, held twice
// the limit for output just under it.
func TestDecompressHoldsNoMoreThanTheLimit(t *testing.T) {
	const limit = 3 << 20
	for _, size := range []int{limit, limit - 1, 2<<20 + 1} {
		zeros := make([]byte, size)
		for _, c := range codecs {
			if c.id == codec.Snappy {
				continue // a snappy block declares its size: decoded in one exact allocation
			}
			d := codec.NewDecompressor(0, 1) // keeps no buffers: each call grows its own
			got, err := d.Decompress(c.id, compress(t, c.id, zeros), limit)
			if err != nil || len(got) != size {
				t.Fatalf("%s, %d bytes at limit %d: got %d bytes, err %v", c.name, size, limit, len(got), err)
			}
			if cap(got) > limit+1 {
				t.Errorf("%s, %d bytes at limit %d: the output buffer holds %d bytes", c.name, size, limit, cap(got))
			}
		}
	}
}

func TestDecompressNamesDamagedInput(t *testing.T) {
	d := codec.NewDecompressor(1<<20, 2)
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			src := compress(t, c.id, payload(20_000))
			for name, bad := range map[string][]byte{
				"truncated": src[:len(src)/2],
				"garbage":   bytes.Repeat([]byte{0xA5}, 64),
				"empty":     nil,
			} {
				got, err := d.Decompress(c.id, bad, 1<<20)
				if err == nil && name != "empty" {
					t.Errorf("%s: decompressed to %d bytes, want an error", name, len(got))
				}
				if errors.Is(err, codec.ErrTooLarge) {
					t.Errorf("%s: ErrTooLarge, want a decoding error", name)
				}
			}
		})
	}
	for _, id := range []int8{codec.None, 7} {
		if _, err := d.Decompress(id, []byte{1}, 10); err == nil {
			t.Fatalf("codec %d decompressed; want an error naming the codec", id)
		}
	}
}

// FuzzDecompress feeds arbitrary input to every codec: no panic, and never more output
// than the limit.
func FuzzDecompress(f *testing.F) {
	for _, c := range codecs {
		src, err := batchtest.Compress(c.id, payload(300))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.id, src)
	}
	f.Add(codec.Snappy, xerial(payload(300), 100))
	d := codec.NewDecompressor(1<<16, 2)
	f.Fuzz(func(t *testing.T, id int8, src []byte) {
		const limit = 4096
		out, err := d.Decompress(id, src, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("codec %d: %d bytes out, limit %d", id, len(out), limit)
		}
		if err == nil {
			d.Release(out)
		}
	})
}

// BenchmarkDecompress is the cost a produce of a compressed batch pays to have its records
// checked: a 1 MiB records section, the size franz-go and librdkafka batches stop near.
func BenchmarkDecompress(b *testing.B) {
	want := payload(1 << 20)
	d := codec.NewDecompressor(1<<21, 2)
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			src := compress(b, c.id, want)
			b.SetBytes(int64(len(want)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := d.Decompress(c.id, src, 1<<21)
				if err != nil {
					b.Fatal(err)
				}
				d.Release(out)
			}
		})
	}
}

// What the Compressor writes, the Decompressor (and so any client) reads back, from many
// goroutines at once.
func TestCompressRoundTrips(t *testing.T) {
	c := codec.NewCompressor(2)
	d := codec.NewDecompressor(1<<20, 2)
	done := make(chan error, 8)
	for g := range 8 {
		go func() {
			for _, cc := range codecs {
				want := payload(1000 + 7919*g)
				prefix := []byte("header")
				out, err := c.Compress(cc.id, codec.DefaultLevels(), want, prefix)
				if err != nil {
					done <- err
					return
				}
				if !bytes.HasPrefix(out, prefix) {
					done <- fmt.Errorf("%s: the bytes before the output were not kept", cc.name)
					return
				}
				got, err := d.Decompress(cc.id, out[len(prefix):], len(want))
				if err != nil || !bytes.Equal(got, want) {
					done <- fmt.Errorf("%s: round trip gave %d bytes, %v", cc.name, len(got), err)
					return
				}
				d.Release(got)
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if _, err := c.Compress(codec.None, codec.DefaultLevels(), []byte("x"), nil); err == nil {
		t.Error("compressing with codec none succeeded; want an error")
	}
}

// BenchmarkCompress is what a topic whose compression.type names a codec costs per
// batch it rewrites (a 1 MiB records section).
func BenchmarkCompress(b *testing.B) {
	src := payload(1 << 20)
	c := codec.NewCompressor(1)
	for _, cc := range codecs {
		b.Run(cc.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			dst := make([]byte, 0, len(src)+1024)
			for b.Loop() {
				if _, err := c.Compress(cc.id, codec.DefaultLevels(), src, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzCompressRoundTrip: whatever records section the broker recompresses, at whatever
// levels, decompresses back to itself.
func FuzzCompressRoundTrip(f *testing.F) {
	f.Add(codec.Gzip, 1, 9, 3, payload(500))
	f.Add(codec.Zstd, -1, 9, 19, payload(3000))
	f.Add(codec.LZ4, 9, 9, 0, []byte{})
	f.Add(codec.LZ4, -1, 17, 3, payload(200_000))
	f.Add(codec.LZ4, -1, 1, 3, payload(3000))
	f.Add(codec.Snappy, 0, 0, 0, bytes.Repeat([]byte("ab"), 100))
	c := codec.NewCompressor(2)
	d := codec.NewDecompressor(1<<20, 2)
	f.Fuzz(func(t *testing.T, id int8, gzipLevel, lz4Level, zstdLevel int, src []byte) {
		if id < codec.Gzip || id > codec.Zstd {
			return
		}
		out, err := c.Compress(id, codec.Levels{Gzip: gzipLevel, LZ4: lz4Level, Zstd: zstdLevel}, src, nil)
		if err != nil {
			t.Fatalf("codec %d: %v", id, err)
		}
		got, err := d.Decompress(id, out, len(src)+1)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("codec %d levels %d/%d/%d: %d bytes back (%v), want the %d in", id, gzipLevel, lz4Level, zstdLevel, len(got), err, len(src))
		}
		d.Release(got)
	})
}

// Stream hands out the same bytes Decompress returns, and fails with ErrTooLarge once
// more than the limit has come out: a lookup walking a decompression bomb stops there.
func TestStreamReadsWhatDecompressReturnsUpToTheLimit(t *testing.T) {
	d := codec.NewDecompressor(1<<20, 2)
	want := payload(300_000)
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			src := compress(t, c.id, want)
			var got []byte
			err := d.Stream(c.id, src, len(want), func(r io.Reader) error {
				var err error
				got, err = io.ReadAll(r)
				return err
			})
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("streamed %d bytes, err %v; want the %d bytes back", len(got), err, len(want))
			}
			err = d.Stream(c.id, src, len(want)-1, func(r io.Reader) error {
				_, err := io.Copy(io.Discard, r)
				return err
			})
			if !errors.Is(err, codec.ErrTooLarge) {
				t.Fatalf("limit one byte short: err %v, want ErrTooLarge", err)
			}
			damaged := bytes.Clone(src)
			damaged[len(damaged)/2] ^= 0xff
			damaged = damaged[:len(damaged)*3/4]
			err = d.Stream(c.id, damaged, len(want), func(r io.Reader) error {
				_, err := io.Copy(io.Discard, r)
				return err
			})
			if err == nil {
				t.Fatal("damaged input streamed without error")
			}
		})
	}
}
