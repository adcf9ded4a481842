package wire

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func testTable(t testing.TB) *apiTable {
	t.Helper()
	reg, err := NewRegistry(metadataAPI(nil))
	if err != nil {
		t.Fatal(err)
	}
	return reg.table.Load()
}

func TestDecodeRequestHeaders(t *testing.T) {
	table := testTable(t)
	id := "client-1"

	// v1 header (non-flexible Metadata v8) and v2 header (flexible Metadata v12, with a
	// tagged field in the header that must be skipped).
	v8 := appendRequest(nil, 77, &id, metadataRequest(8, "a"))[4:]
	d, err := decodeRequest(v8, table)
	if err != nil {
		t.Fatal(err)
	}
	if d.header != (requestHeader{key: 3, version: 8, correlationID: 77, clientID: id}) || d.dispatch != dispatchServe {
		t.Fatalf("v8: %+v", d)
	}

	v12 := appendRequest(nil, 78, nil, metadataRequest(12, "b"))[4:]
	hdrEnd := 2 + 2 + 4 + 2 // null client id
	if v12[hdrEnd] != 0 {
		t.Fatalf("test encoder: expected the empty tag byte at %d", hdrEnd)
	}
	tagged := append([]byte{}, v12[:hdrEnd]...)
	tagged = append(tagged, 2, 0, 3, 'x', 'y', 'z', 0x81, 0x01, 1, 0xff) // two tags
	tagged = append(tagged, v12[hdrEnd+1:]...)
	d, err = decodeRequest(tagged, table)
	if err != nil {
		t.Fatal(err)
	}
	mreq := d.body.(*kmsg.MetadataRequest)
	if d.header.clientID != "" || d.header.correlationID != 78 || len(mreq.Topics) != 1 || *mreq.Topics[0].Topic != "b" {
		t.Fatalf("v12 with header tags: %+v %+v", d.header, mreq.Topics)
	}

	// Registered key at an unserved version, and an unregistered key kmsg knows.
	d, err = decodeRequest(appendRequest(nil, 1, nil, metadataRequest(13))[4:], table)
	if err != nil || d.dispatch != dispatchUnsupported {
		t.Fatalf("Metadata v13: %v %v", d.dispatch, err)
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 4
	d, err = decodeRequest(appendRequest(nil, 1, nil, fetch)[4:], table)
	if err != nil || d.dispatch != dispatchUnsupported || d.body.Key() != 1 {
		t.Fatalf("Fetch v4: %v %v", d.dispatch, err)
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	table := testTable(t)
	good := appendRequest(nil, 1, nil, metadataRequest(12, "a"))[4:]
	header := func(key, version int16, rest ...byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		b = append(b, 0, 0, 0, 1, 0xff, 0xff)
		return append(b, rest...)
	}
	for name, frame := range map[string][]byte{
		"empty":                {},
		"short":                good[:9],
		"client id -2":         {0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xfe, 0},
		"client id overruns":   {0, 3, 0, 12, 0, 0, 0, 1, 0, 5, 'a', 'b'},
		"missing header tags":  header(3, 12),
		"tag size overruns":    header(3, 12, 1, 0, 50, 1),
		"tag count overflows":  header(3, 12, 0xff, 0xff, 0xff, 0xff, 0xff),
		"unknown key":          header(5000, 0),
		"version beyond kmsg":  header(3, 50),
		"negative version":     header(0, -2),
		"truncated body":       good[:len(good)-2],
		"bad topic array size": header(3, 12, 0, 0x7f),
	} {
		if _, err := decodeRequest(frame, table); err == nil {
			t.Errorf("%s: decoded, want an error", name)
		}
	}
}

func TestReadUvarint(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want uint32
		ok   bool
	}{
		{[]byte{0}, 0, true},
		{[]byte{0x7f}, 127, true},
		{[]byte{0x80, 0x01}, 128, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, 0xffffffff, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x10}, 0, false},
		{[]byte{0x80}, 0, false},
		{nil, 0, false},
	} {
		got, _, err := readUvarint(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("readUvarint(% x) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestReadFrameSizes(t *testing.T) {
	frame := func(size uint32, body int) []byte {
		return append(binary.BigEndian.AppendUint32(nil, size), make([]byte, body)...)
	}
	var sizeErr errFrameSize
	for _, size := range []uint32{0, 0x80000000, 0xffffffff, 101} {
		if _, started, err := readFrame(bytesReader(frame(size, 0)), 100, nil); !errors.As(err, &sizeErr) || !started {
			t.Errorf("size %d: err %v started %v, want a size error", size, err, started)
		}
	}
	body, _, err := readFrame(bytesReader(frame(100, 100)), 100, nil)
	if err != nil || len(body) != 100 {
		t.Fatalf("size 100: %d bytes, %v", len(body), err)
	}
	// Larger than one allocation chunk: assembled across growth steps.
	big := frame(3*frameChunk+5, 3*frameChunk+5)
	big[len(big)-1] = 9
	body, _, err = readFrame(bytesReader(big), 4*frameChunk, nil)
	if err != nil || len(body) != 3*frameChunk+5 || body[len(body)-1] != 9 {
		t.Fatalf("big frame: %d bytes, %v", len(body), err)
	}
	if _, started, err := readFrame(bytesReader(nil), 100, nil); started || err == nil {
		t.Fatalf("empty stream: started %v err %v", started, err)
	}
	if _, _, err := readFrame(bytesReader(frame(10, 3)), 100, nil); err == nil {
		t.Fatal("truncated body read without error")
	}
}

// ControlledShutdown v0 is the one request with header v0 (no client id); it is parsed as
// such and, not being served, gets UNSUPPORTED_VERSION rather than being misread.
func TestRequestHeaderV0(t *testing.T) {
	frame := []byte{0, 7, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1} // key 7, v0, corr 42, broker id 1
	h, rest, err := parseRequestHeader(frame)
	if err != nil || h.key != 7 || h.version != 0 || h.correlationID != 42 || h.clientID != "" || len(rest) != 4 {
		t.Fatalf("header %+v rest %x err %v", h, rest, err)
	}
}
