package wire

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The seed corpus lives in testdata/fuzz/{FuzzFrame,FuzzRequestHeader}: valid ApiVersions
// v3, Metadata v12 and Produce v9 (with a record batch) requests, a pipelined stream, and
// broken ones (bad sizes, truncation, unknown keys, bad header tags).

// FuzzFrame feeds an arbitrary byte stream through the connection reader's path: framing,
// header and body decoding, and building the answers the server itself produces.
func FuzzFrame(f *testing.F) {
	table := testTable(f)
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytesReader(stream)
		for {
			frame, _, err := readFrame(r, 1<<20, nil)
			if err != nil {
				return
			}
			if len(frame) > 1<<20 {
				t.Fatalf("frame of %d bytes passed a 1 MiB limit", len(frame))
			}
			d, err := decodeRequest(frame, table)
			if err != nil {
				continue // the server closes the connection here
			}
			checkAnswerable(t, d, table)
		}
	})
}

// FuzzRequestHeader decodes a request with an arbitrary key and version; rest is
// everything after the correlation id (client id, header tags, body).
func FuzzRequestHeader(f *testing.F) {
	table := testTable(f)
	f.Fuzz(func(t *testing.T, key, version int16, rest []byte) {
		frame := binary.BigEndian.AppendUint16(nil, uint16(key))
		frame = binary.BigEndian.AppendUint16(frame, uint16(version))
		frame = binary.BigEndian.AppendUint32(frame, 12345)
		frame = append(frame, rest...)
		d, err := decodeRequest(frame, table)
		if err != nil {
			return
		}
		if d.header.key != key || d.header.version != version || d.header.correlationID != 12345 {
			t.Fatalf("header decoded as %+v", d.header)
		}
		known := kmsg.RequestForKey(key)
		switch d.dispatch {
		case dispatchApiVersionsTooNew:
			if key != apiVersionsKey || version <= apiVersionsMaxVersion {
				t.Fatalf("KIP-511 path for key %d v%d", key, version)
			}
		case dispatchServe:
			if api := table.lookup(key); api == nil || version < api.MinVersion || version > api.MaxVersion {
				t.Fatalf("served key %d v%d outside the registry", key, version)
			}
		case dispatchUnsupported:
			if known == nil || version < 0 || version > known.MaxVersion() {
				t.Fatalf("key %d v%d decoded though kmsg cannot decode it", key, version)
			}
		}
		checkAnswerable(t, d, table)
	})
}

// checkAnswerable builds the response the server would send for d without a user
// handler and checks a client can decode it at the version it is sent at.
func checkAnswerable(t *testing.T, d decodedRequest, table *apiTable) {
	t.Helper()
	var resp kmsg.Response
	switch {
	case d.dispatch == dispatchApiVersionsTooNew:
		resp = apiVersionsTooNewResponse()
	case d.dispatch == dispatchUnsupported:
		resp = table.errorResponse(d.body, 35)
		if resp.GetVersion() != d.header.version {
			t.Fatalf("error response at v%d for a v%d request", resp.GetVersion(), d.header.version)
		}
	case d.header.key == apiVersionsKey:
		var err error
		if resp, err = d.api.Handle(context.Background(), &Request{Key: d.header.key, Version: d.header.version, Body: d.body}); err != nil {
			t.Fatal(err)
		}
	default:
		return // a user handler's answer
	}
	enc := appendResponse(nil, d.header.correlationID, resp)
	if got := binary.BigEndian.Uint32(enc); int(got) != len(enc)-4 {
		t.Fatalf("size prefix %d for a %d-byte frame", got, len(enc))
	}
	body := enc[8:]
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		body = body[1:]
	}
	check := resp.RequestKind().ResponseKind()
	check.SetVersion(resp.GetVersion())
	if err := check.ReadFrom(body); err != nil {
		t.Fatalf("%s v%d response does not decode: %v", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
}
