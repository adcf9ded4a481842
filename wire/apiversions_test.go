package wire

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestApiVersionsListsTheRegistry(t *testing.T) {
	noop := func(context.Context, *Request) (kmsg.Response, error) { return nil, nil }
	ts := startServer(t, ServerConfig{},
		API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: noop},
		API{Key: 0, MinVersion: 3, MaxVersion: 9, Handle: noop},
	)
	if err := ts.srv.reg.Add(API{Key: 1, MinVersion: 4, MaxVersion: 12, Handle: noop}); err != nil {
		t.Fatal(err)
	}
	want := []kmsg.ApiVersionsResponseApiKey{
		{ApiKey: 0, MinVersion: 3, MaxVersion: 9},
		{ApiKey: 1, MinVersion: 4, MaxVersion: 12}, // added while serving
		{ApiKey: 3, MinVersion: 0, MaxVersion: 12},
		{ApiKey: 18, MinVersion: 0, MaxVersion: 4},
	}
	c := dialRaw(t, ts.addr)
	for v := int16(0); v <= apiVersionsMaxVersion; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "wire-test", "0.1.0-rc1"
		c.send(int32(100+v), req)
		// recv decodes with header v0 for ApiVersions: a stray tagged-field byte after
		// the correlation id would shift every field and fail the comparison below.
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		if corr := c.recv(resp); corr != int32(100+v) {
			t.Fatalf("v%d: correlation id %d", v, corr)
		}
		if resp.ErrorCode != 0 || len(resp.ApiKeys) != len(want) {
			t.Fatalf("v%d: error %d keys %+v, want %+v", v, resp.ErrorCode, resp.ApiKeys, want)
		}
		for i, k := range resp.ApiKeys {
			if k.ApiKey != want[i].ApiKey || k.MinVersion != want[i].MinVersion || k.MaxVersion != want[i].MaxVersion {
				t.Fatalf("v%d: key %d = %+v, want %+v", v, i, k, want[i])
			}
		}
	}
}

func TestApiVersionsRejectsBadSoftwareName(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	c := dialRaw(t, ts.addr)
	for i, name := range []string{"", "-kgo", "kgo client", "kgo-"} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		req.ClientSoftwareName, req.ClientSoftwareVersion = name, "1.0"
		c.send(int32(i), req)
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		c.recv(resp)
		if resp.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("software name %q: error %d, want INVALID_REQUEST", name, resp.ErrorCode)
		}
	}
}

func TestApiVersionsTooNewGetsKIP511Answer(t *testing.T) {
	ts := startServer(t, ServerConfig{})
	c := dialRaw(t, ts.addr)

	v5 := kmsg.NewPtrApiVersionsRequest()
	v5.Version = 5
	v5.ClientSoftwareName, v5.ClientSoftwareVersion = "wire-test", "1"
	c.send(50, v5)
	checkKIP511(t, c, 50)

	// A version no library knows yet, with a body we cannot read: still answered.
	frame := []byte{0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 51, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	c.sendRaw(frame)
	checkKIP511(t, c, 51)

	checkServes(t, ts.addr)
}

func checkKIP511(t *testing.T, c *rawConn, wantCorr int32) {
	t.Helper()
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0 // KIP-511: the answer is always v0 on the wire
	if corr := c.recv(resp); corr != wantCorr {
		t.Fatalf("correlation id %d, want %d", corr, wantCorr)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error %d, want UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	if len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MinVersion != 0 || resp.ApiKeys[0].MaxVersion != 4 {
		t.Fatalf("keys %+v, want only ApiVersions 0-4", resp.ApiKeys)
	}
}

func TestValidSoftwareIdent(t *testing.T) {
	for s, want := range map[string]bool{
		"kgo": true, "a": true, "1.2.3-rc.1": true, "librdkafka": true, "apache-kafka-java": true,
		"": false, "-a": false, "a-": false, ".a": false, "a b": false, "a_b": false, "é": false,
	} {
		if got := validSoftwareIdent(s); got != want {
			t.Errorf("validSoftwareIdent(%q) = %v, want %v", s, got, want)
		}
	}
}
