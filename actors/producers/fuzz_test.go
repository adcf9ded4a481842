package producers

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzUnmarshalSnapshot: arbitrary bytes never panic; anything accepted is a
// canonical encoding (re-marshals to the same bytes) of a usable State.
func FuzzUnmarshalSnapshot(f *testing.F) {
	f.Add(New().MarshalSnapshot(0))
	f.Add(sampleSnapshot())
	f.Add([]byte("CKPS"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, offset, err := UnmarshalSnapshot(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v does not wrap ErrCorruptSnapshot", err)
			}
			return
		}
		if again := s.MarshalSnapshot(offset); !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical snapshot:\n in  %x\n out %x", data, again)
		}
		for _, p := range s.Producers() {
			b := mk(p.ID, p.Epoch, addSequence(p.LastSeq(), 1), 1)
			if _, _, err := s.Check(b); err != nil && Code(err) == CodeUnknownServerError {
				t.Fatalf("Check on restored state: %v", err)
			}
			s.Apply(b, 0)
		}
	})
}

// FuzzUnmarshalSnapshotStructure appends a valid checksum to the fuzzer's
// bytes so that mutations reach the structural decoding behind the CRC.
func FuzzUnmarshalSnapshotStructure(f *testing.F) {
	for _, seed := range [][]byte{New().MarshalSnapshot(0), sampleSnapshot()} {
		f.Add(seed[:len(seed)-crcSize])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		data := resum(append(append([]byte(nil), body...), 0, 0, 0, 0))
		s, offset, err := UnmarshalSnapshot(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v does not wrap ErrCorruptSnapshot", err)
			}
			return
		}
		if again := s.MarshalSnapshot(offset); !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical snapshot:\n in  %x\n out %x", data, again)
		}
	})
}
