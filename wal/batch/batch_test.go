package batch_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

var codecs = []struct {
	name  string
	codec int8
}{
	{"none", batch.CodecNone},
	{"gzip", batch.CodecGzip},
	{"snappy", batch.CodecSnappy},
	{"lz4", batch.CodecLZ4},
	{"zstd", batch.CodecZstd},
}

func TestParseHeaderReadsEveryField(t *testing.T) {
	opts := batchtest.Options{
		BaseOffset:           1234567890123,
		PartitionLeaderEpoch: 7,
		Codec:                batch.CodecLZ4,
		ProducerID:           99,
		ProducerEpoch:        3,
		BaseSequence:         41,
		FirstTimestamp:       1_700_000_000_000,
		Transactional:        true,
	}
	b := batchtest.Build(opts, batchtest.Values(5, 20))
	h, err := batch.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := batch.Header{
		BaseOffset:           opts.BaseOffset,
		BatchLength:          int32(len(b) - 12),
		PartitionLeaderEpoch: 7,
		Magic:                2,
		CRC:                  binary.BigEndian.Uint32(b[17:]),
		Attributes:           int16(batch.CodecLZ4) | batch.AttrTransactional,
		LastOffsetDelta:      4,
		FirstTimestamp:       opts.FirstTimestamp,
		MaxTimestamp:         opts.FirstTimestamp + 4,
		ProducerID:           99,
		ProducerEpoch:        3,
		BaseSequence:         41,
		NumRecords:           5,
	}
	if h != want {
		t.Fatalf("header\n got %+v\nwant %+v", h, want)
	}
	if h.LastOffset() != opts.BaseOffset+4 || h.Size() != len(b) || h.Compression() != batch.CodecLZ4 {
		t.Fatalf("LastOffset %d Size %d Compression %d", h.LastOffset(), h.Size(), h.Compression())
	}
	if !h.Transactional() || h.Control() || h.LogAppendTime() {
		t.Fatalf("flags: transactional %v control %v logAppendTime %v", h.Transactional(), h.Control(), h.LogAppendTime())
	}
	if _, err := batch.ParseHeader(b[:batch.HeaderSize-1]); !errors.Is(err, batch.ErrCorrupt) {
		t.Fatalf("short header: got %v, want ErrCorrupt", err)
	}
}

// TestChecksumKnownAnswer pins the CRC variant and range against a published test vector:
// an all-zero batch header with no records, whose CRC-32C (over bytes 21..) is 0x595fb7dd.
func TestChecksumKnownAnswer(t *testing.T) {
	b := make([]byte, batch.HeaderSize)
	binary.BigEndian.PutUint32(b[8:], 49)
	b[16] = 2
	if got := batch.Checksum(b); got != 0x595fb7dd {
		t.Fatalf("Checksum = %08x, want 595fb7dd", got)
	}
}

func TestValidateAcceptsEveryCodec(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			opts := batchtest.DefaultOptions(1000)
			opts.Codec = c.codec
			recs := batchtest.Values(10, 100)
			recs[3].Key = []byte("k")
			recs[4].Headers = []batchtest.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "null"}}
			recs[5].Value = nil // tombstone
			b := batchtest.Build(opts, recs)
			h, err := batch.Validate(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.NumRecords != 10 || h.Compression() != c.codec {
				t.Fatalf("NumRecords %d codec %d", h.NumRecords, h.Compression())
			}
			_, got, err := batchtest.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) || !bytes.Equal(got[3].Key, []byte("k")) || got[5].Value != nil ||
				len(got[4].Headers) != 2 || got[4].Headers[1].Value != nil || !bytes.Equal(got[9].Value, recs[9].Value) {
				t.Fatalf("decoded records differ from built ones: %+v", got)
			}
		})
	}
}

// patch edits a built batch and recomputes its CRC, producing a batch that checksums fine
// but lies about its content.
func patch(b []byte, edit func(b []byte)) []byte {
	b = append([]byte{}, b...)
	edit(b)
	binary.BigEndian.PutUint32(b[17:], batch.Checksum(b))
	return b
}

// rawBatch wraps hand-encoded records in a valid header declaring n records.
func rawBatch(n int32, records []byte) []byte {
	b := batchtest.Build(batchtest.DefaultOptions(0), batchtest.Values(1, 1))[:batch.HeaderSize]
	b = append(b, records...)
	return patch(b, func(b []byte) {
		binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
		binary.BigEndian.PutUint32(b[23:], uint32(n-1))
		binary.BigEndian.PutUint32(b[57:], uint32(n))
	})
}

// record hand-encodes one record body with the given fields and a length prefix.
func record(offsetDelta int64, key, value int64, tail ...byte) []byte {
	body := []byte{0}
	body = binary.AppendVarint(body, 0)
	body = binary.AppendVarint(body, offsetDelta)
	body = binary.AppendVarint(body, key)
	body = binary.AppendVarint(body, value)
	body = append(body, tail...)
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func TestValidateRejects(t *testing.T) {
	good := batchtest.Build(batchtest.DefaultOptions(0), batchtest.Values(3, 10))
	legacy := make([]byte, 30)
	binary.BigEndian.PutUint32(legacy[8:], 18)
	legacy[16] = 1
	noHeaders := binary.AppendVarint(nil, 0)

	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, batch.ErrCorrupt},
		{"shorter than a header", good[:40], batch.ErrCorrupt},
		{"legacy magic 1", legacy, batch.ErrUnsupportedMagic},
		{"legacy magic 0 short", func() []byte { b := append([]byte{}, legacy[:20]...); b[16] = 0; return b }(), batch.ErrUnsupportedMagic},
		{"unknown magic 3", func() []byte { b := append([]byte{}, good...); b[16] = 3; return b }(), batch.ErrCorrupt},
		{"truncated", good[:len(good)-1], batch.ErrCorrupt},
		{"extra byte", append(append([]byte{}, good...), 0), batch.ErrCorrupt},
		{"flipped byte in a record", func() []byte { b := append([]byte{}, good...); b[len(b)-3] ^= 1; return b }(), batch.ErrCorrupt},
		{"flipped byte in max timestamp", func() []byte { b := append([]byte{}, good...); b[40] ^= 0x80; return b }(), batch.ErrCorrupt},
		{"unknown codec 5", patch(good, func(b []byte) { b[22] |= 5 }), batch.ErrCorrupt},
		{"zero records", batchtest.Build(batchtest.DefaultOptions(0), nil), batch.ErrInvalidRecord},
		{"last offset delta mismatch", patch(good, func(b []byte) { binary.BigEndian.PutUint32(b[23:], 5) }), batch.ErrInvalidRecord},
		{"more records declared than present", patch(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[23:], 3)
			binary.BigEndian.PutUint32(b[57:], 4)
		}), batch.ErrInvalidRecord},
		{"fewer records declared than present", patch(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[23:], 1)
			binary.BigEndian.PutUint32(b[57:], 2)
		}), batch.ErrInvalidRecord},
		{"offset delta out of order", rawBatch(2, append(record(0, -1, -1, noHeaders...), record(5, -1, -1, noHeaders...)...)), batch.ErrInvalidRecord},
		{"value longer than record", rawBatch(1, record(0, -1, 50, noHeaders...)), batch.ErrInvalidRecord},
		{"negative key length", rawBatch(1, record(0, -2, -1, noHeaders...)), batch.ErrInvalidRecord},
		{"null header key", rawBatch(1, record(0, -1, -1, append(binary.AppendVarint(nil, 1), binary.AppendVarint(binary.AppendVarint(nil, -1), -1)...)...)), batch.ErrInvalidRecord},
		{"trailing bytes in record", rawBatch(1, record(0, -1, -1, 0, 0)), batch.ErrInvalidRecord},
		{"record length beyond batch", rawBatch(1, binary.AppendVarint(nil, 100)), batch.ErrInvalidRecord},
		{"empty record body", rawBatch(1, binary.AppendVarint(nil, 0)), batch.ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := batch.Validate(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate: got %v, want %v", err, tt.want)
			}
		})
	}
}

// The broker has no codecs: a compressed batch is checked by CRC and header only, so garbage
// compressed bytes with a valid CRC pass. This pins that contract.
func TestValidateDoesNotDecompress(t *testing.T) {
	opts := batchtest.DefaultOptions(0)
	opts.Codec = batch.CodecZstd
	b := batchtest.Build(opts, batchtest.Values(4, 10))
	garbage := patch(b, func(b []byte) {
		for i := batch.HeaderSize; i < len(b); i++ {
			b[i] = 0xAA
		}
	})
	if _, err := batch.Validate(garbage); err != nil {
		t.Fatalf("compressed batch with valid CRC rejected: %v", err)
	}
}

func TestPatchedFieldsKeepTheCRCValid(t *testing.T) {
	b := batchtest.Build(batchtest.DefaultOptions(500), batchtest.Values(3, 10))
	batch.SetBaseOffset(b, 4242)
	batch.SetPartitionLeaderEpoch(b, 17)
	h, err := batch.Validate(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 4242 || h.PartitionLeaderEpoch != 17 || h.LastOffset() != 4244 {
		t.Fatalf("patched header %+v", h)
	}

	batch.SetLogAppendTime(b, 9999)
	h, err = batch.Validate(b)
	if err != nil {
		t.Fatalf("after SetLogAppendTime: %v", err)
	}
	if !h.LogAppendTime() || h.MaxTimestamp != 9999 || h.FirstTimestamp != 500 {
		t.Fatalf("log append time header %+v", h)
	}
}

// A batch whose records section is swapped for the same records in another codec and
// resealed is a valid batch with every header field but codec and length kept, and
// decodes to the same records.
func TestResealedBatchKeepsItsHeaderAndRecords(t *testing.T) {
	opts := batchtest.DefaultOptions(1000)
	opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence = 77, 3, 40
	recs := batchtest.Values(20, 50)
	orig := batchtest.Build(opts, recs)
	want, err := batch.Validate(orig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codecs {
		body, err := batchtest.Compress(c.codec, orig[batch.HeaderSize:])
		if err != nil {
			t.Fatal(err)
		}
		b := append(append([]byte{}, orig[:batch.HeaderSize]...), body...)
		batch.Reseal(b, c.codec)
		h, err := batch.Validate(b)
		if err != nil {
			t.Fatalf("%s: resealed batch: %v", c.name, err)
		}
		if h.Compression() != c.codec || h.Size() != len(b) {
			t.Errorf("%s: codec %d, size %d of %d bytes", c.name, h.Compression(), h.Size(), len(b))
		}
		h.Attributes, h.BatchLength, h.CRC = want.Attributes, want.BatchLength, want.CRC
		if h != want {
			t.Errorf("%s: header\n got %+v\nwant %+v", c.name, h, want)
		}
		_, got, err := batchtest.Decode(b)
		if err != nil || len(got) != len(recs) || !bytes.Equal(got[19].Value, recs[19].Value) {
			t.Errorf("%s: decoded %d records (%v), want the %d built", c.name, len(got), err, len(recs))
		}
	}
}

func TestSplit(t *testing.T) {
	a := batchtest.Build(batchtest.DefaultOptions(0), batchtest.Values(2, 5))
	opts := batchtest.DefaultOptions(0)
	opts.Codec = batch.CodecGzip
	b := batchtest.Build(opts, batchtest.Values(7, 30))
	c := batchtest.Build(batchtest.DefaultOptions(0), batchtest.Values(1, 300))
	all := bytes.Join([][]byte{a, b, c}, nil)

	got, err := batch.Split(all)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) || !bytes.Equal(got[2], c) {
		t.Fatalf("Split returned %d batches not matching the input", len(got))
	}
	if &got[1][0] != &all[len(a)] {
		t.Fatal("Split copied instead of aliasing the input")
	}
	_ = append(got[0], 0xFF) // must not clobber the next batch
	if !bytes.Equal(got[1], b) {
		t.Fatal("appending to one batch overwrote the next")
	}

	if got, err := batch.Split(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty payload: %d batches, %v", len(got), err)
	}
	bad := []struct {
		name string
		b    []byte
	}{
		{"partial trailing batch", all[:len(all)-1]},
		{"trailing bytes shorter than a length field", append(append([]byte{}, a...), 1, 2, 3)},
		{"negative length", patchLength(a, -1)},
		{"length below the magic byte", patchLength(a, 4)},
	}
	for _, tt := range bad {
		if _, err := batch.Split(tt.b); !errors.Is(err, batch.ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", tt.name, err)
		}
	}
}

func patchLength(b []byte, n int32) []byte {
	b = append([]byte{}, b...)
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	return b
}
