package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestHeader is request header v1/v2 without the tagged fields: v2 (used by flexible
// request versions) only appends a tagged-field section, and the client id stays a
// plain int16-length nullable string even there.
type requestHeader struct {
	key, version  int16
	correlationID int32
	clientID      string
}

var errTruncatedHeader = errors.New("request header truncated")

// parseRequestHeader reads the fixed part of a request header from a frame (the bytes
// after the size prefix) and returns the remaining bytes. Request header v0 (no client
// id) is used only by ControlledShutdown v0; every other request has v1 or v2.
func parseRequestHeader(frame []byte) (requestHeader, []byte, error) {
	const fixedV0 = 2 + 2 + 4 // key, version, correlation id
	const fixed = fixedV0 + 2 // + client id length
	if len(frame) >= fixedV0 && binary.BigEndian.Uint16(frame[0:]) == 7 && binary.BigEndian.Uint16(frame[2:]) == 0 {
		return requestHeader{key: 7, correlationID: int32(binary.BigEndian.Uint32(frame[4:]))}, frame[fixedV0:], nil
	}
	if len(frame) < fixed {
		return requestHeader{}, nil, errTruncatedHeader
	}
	h := requestHeader{
		key:           int16(binary.BigEndian.Uint16(frame[0:])),
		version:       int16(binary.BigEndian.Uint16(frame[2:])),
		correlationID: int32(binary.BigEndian.Uint32(frame[4:])),
	}
	idLen := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[fixed:]
	switch {
	case idLen == -1: // null client id; Kafka treats it as ""
	case idLen < 0:
		return h, nil, fmt.Errorf("client id length %d: %w", idLen, errTruncatedHeader)
	case int(idLen) > len(rest):
		return h, nil, fmt.Errorf("client id of %d bytes with %d left: %w", idLen, len(rest), errTruncatedHeader)
	default:
		h.clientID = string(rest[:idLen])
		rest = rest[idLen:]
	}
	return h, rest, nil
}

// skipTaggedFields skips a tagged-field section (count, then tag/size/bytes per field).
// The header defines no tags we use, so their contents are ignored.
func skipTaggedFields(b []byte) ([]byte, error) {
	n, b, err := readUvarint(b)
	if err != nil {
		return nil, fmt.Errorf("tagged field count: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		if _, b, err = readUvarint(b); err != nil {
			return nil, fmt.Errorf("tagged field %d tag: %w", i, err)
		}
		var size uint32
		if size, b, err = readUvarint(b); err != nil {
			return nil, fmt.Errorf("tagged field %d size: %w", i, err)
		}
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("tagged field %d of %d bytes with %d left: %w", i, size, len(b), errTruncatedHeader)
		}
		b = b[size:]
	}
	return b, nil
}

// readUvarint reads an unsigned varint of at most 32 bits, as Kafka encodes them.
func readUvarint(b []byte) (uint32, []byte, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, nil, errTruncatedHeader
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, nil, errors.New("uvarint overflows 32 bits")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, errors.New("uvarint overflows 32 bits")
}

// dispatch says how the server answers a decoded request.
type dispatch int

const (
	// dispatchServe: a registered API at a version it serves.
	dispatchServe dispatch = iota
	// dispatchUnsupported: kmsg decoded it but the registry does not serve this key or
	// version; answered with UNSUPPORTED_VERSION at the request's version.
	dispatchUnsupported
	// dispatchApiVersionsTooNew: ApiVersions above what we serve, answered per KIP-511
	// without decoding the body (its layout may be newer than we know).
	dispatchApiVersionsTooNew
)

// decodedRequest is a request frame decoded far enough to answer it.
type decodedRequest struct {
	header   requestHeader
	body     kmsg.Request // nil for dispatchApiVersionsTooNew
	api      *API         // the registered API for dispatchServe
	dispatch dispatch
}

// decodeRequest decodes one request frame against the registry snapshot. An error means
// the frame cannot be answered in a form the client would parse, and the connection
// must close.
func decodeRequest(frame []byte, table *apiTable) (decodedRequest, error) {
	h, rest, err := parseRequestHeader(frame)
	if err != nil {
		return decodedRequest{}, fmt.Errorf("parse request header: %w", err)
	}
	d := decodedRequest{header: h}
	if h.key == apiVersionsKey && h.version > apiVersionsMaxVersion {
		d.dispatch = dispatchApiVersionsTooNew
		return d, nil
	}
	kreq := kmsg.RequestForKey(h.key)
	if kreq == nil {
		return d, fmt.Errorf("unknown API key %d (version %d)", h.key, h.version)
	}
	if h.version < 0 || h.version > kreq.MaxVersion() {
		// kmsg would decode a newer version with its newest layout, which is wrong, so
		// there is no honest way to answer.
		return d, fmt.Errorf("%s v%d is outside what kmsg decodes (v0-v%d)",
			kmsg.NameForKey(h.key), h.version, kreq.MaxVersion())
	}
	kreq.SetVersion(h.version)
	if kreq.IsFlexible() {
		if rest, err = skipTaggedFields(rest); err != nil {
			return d, fmt.Errorf("%s v%d request header tags: %w", kmsg.NameForKey(h.key), h.version, err)
		}
	}
	// Trailing bytes after the body are ignored, as kmsg does.
	if err := kreq.ReadFrom(rest); err != nil {
		return d, fmt.Errorf("decode %s v%d body: %w", kmsg.NameForKey(h.key), h.version, err)
	}
	d.body = kreq
	if api := table.lookup(h.key); api != nil && h.version >= api.MinVersion && h.version <= api.MaxVersion {
		d.api = api
		d.dispatch = dispatchServe
	} else {
		d.dispatch = dispatchUnsupported
	}
	return d, nil
}
