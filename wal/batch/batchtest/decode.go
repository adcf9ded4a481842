package batchtest

import (
	"encoding/binary"
	"fmt"

	"github.com/chronik/chronik-node/wal/batch"
)

// Decode checks b (exactly one batch) with batch.CheckIntegrity, decompresses it and returns
// its header and records, so a test can compare what it produced with what it fetched.
func Decode(b []byte) (batch.Header, []Record, error) {
	h, err := batch.CheckIntegrity(b)
	if err != nil {
		return batch.Header{}, nil, err
	}
	body, err := decompress(h.Compression(), b[batch.HeaderSize:])
	if err != nil {
		return h, nil, fmt.Errorf("decompress codec %d: %w", h.Compression(), err)
	}
	d := decoder{b: body}
	recs := make([]Record, 0, min(int(h.NumRecords), len(body)))
	for i := int32(0); i < h.NumRecords; i++ {
		r, err := d.record()
		if err != nil {
			return h, nil, fmt.Errorf("record %d: %w", i, err)
		}
		recs = append(recs, r)
	}
	if len(d.b) != 0 {
		return h, nil, fmt.Errorf("%d bytes after %d records", len(d.b), h.NumRecords)
	}
	return h, recs, nil
}

// DecodeAll decodes a sequence of concatenated batches (a fetch response's records) into
// their records, in order.
func DecodeAll(b []byte) ([]Record, error) {
	batches, err := batch.Split(b)
	if err != nil {
		return nil, err
	}
	var all []Record
	for _, one := range batches {
		_, recs, err := Decode(one)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
	}
	return all, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.varint()
	if d.err != nil || n == -1 {
		return nil
	}
	if n < 0 || n > int64(len(d.b)) {
		d.err = fmt.Errorf("length %d overruns record", n)
		return nil
	}
	v := append([]byte{}, d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *decoder) record() (Record, error) {
	length := d.varint()
	if d.err == nil && (length < 1 || length > int64(len(d.b))) {
		return Record{}, fmt.Errorf("record length %d", length)
	}
	if d.err != nil {
		return Record{}, d.err
	}
	body := decoder{b: d.b[1:length]} // skip the attributes byte
	d.b = d.b[length:]
	var r Record
	r.TimestampDelta = body.varint()
	body.varint() // offset delta
	r.Key = body.bytes()
	r.Value = body.bytes()
	nh := body.varint()
	for j := int64(0); j < nh && body.err == nil; j++ {
		k := body.bytes()
		r.Headers = append(r.Headers, RecordHeader{Key: string(k), Value: body.bytes()})
	}
	if body.err == nil && len(body.b) != 0 {
		body.err = fmt.Errorf("%d trailing bytes in record", len(body.b))
	}
	return r, body.err
}
