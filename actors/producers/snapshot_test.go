package producers

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// randomState drives a State through a random history of appends, epoch
// bumps, wrap-arounds and Expire calls.
func randomState(r *rand.Rand) *State {
	s := New()
	nProducers := r.IntN(12)
	type prod struct {
		id    int64
		epoch int16
		seq   int32
	}
	prods := make([]prod, nProducers)
	for i := range prods {
		prods[i] = prod{id: r.Int64N(1 << 40), epoch: int16(r.IntN(3)), seq: r.Int32N(math.MaxInt32)}
		if r.IntN(4) == 0 {
			prods[i].seq = math.MaxInt32 - r.Int32N(3) // exercise the wrap
		}
	}
	offset := r.Int64N(1 << 30)
	now := r.Int64N(1 << 40)
	for step := r.IntN(60); step > 0 && nProducers > 0; step-- {
		p := &prods[r.IntN(nProducers)]
		if r.IntN(10) == 0 {
			p.epoch++
			p.seq = 0
		}
		n := 1 + r.Int32N(20)
		b := mk(p.id, p.epoch, p.seq, n)
		b.BaseOffset, b.LastOffset, b.MaxTimestamp = offset, offset+int64(n)-1, now-r.Int64N(1000)
		s.Apply(b, now)
		p.seq = addSequence(b.LastSeq, 1)
		offset += int64(n)
		now += r.Int64N(100)
		if r.IntN(20) == 0 {
			s.Expire(now, 50+r.Int64N(500))
		}
	}
	return s
}

func TestSnapshotRoundTripRandomStates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		s := randomState(r)
		offset := r.Int64()
		data := s.MarshalSnapshot(offset)
		got, gotOffset, err := UnmarshalSnapshot(data)
		if err != nil {
			t.Fatalf("state %d: unmarshal: %v", i, err)
		}
		if gotOffset != offset {
			t.Fatalf("state %d: offset %d, want %d", i, gotOffset, offset)
		}
		if want, have := s.Producers(), got.Producers(); !reflect.DeepEqual(want, have) {
			t.Fatalf("state %d: producers differ\nwant %+v\nhave %+v", i, want, have)
		}
		if again := got.MarshalSnapshot(offset); string(again) != string(data) {
			t.Fatalf("state %d: re-encoding differs", i)
		}
		// The restored state must give the same verdicts as the original.
		for _, p := range s.Producers() {
			probes := []Batch{
				mk(p.ID, p.Epoch, addSequence(p.LastSeq(), 1), 1),
				mk(p.ID, p.Epoch, addSequence(p.LastSeq(), 2), 1),
				mk(p.ID, p.Epoch-1, 0, 1),
				mk(p.ID, p.Epoch+1, 0, 1),
				mk(p.ID, p.Epoch+1, 3, 1),
			}
			for _, m := range p.Batches {
				probes = append(probes, Batch{ProducerID: p.ID, Epoch: p.Epoch, FirstSeq: m.FirstSeq, LastSeq: m.LastSeq})
			}
			for _, b := range probes {
				d1, dup1, err1 := s.Check(b)
				d2, dup2, err2 := got.Check(b)
				if d1 != d2 || dup1 != dup2 || Code(err1) != Code(err2) {
					t.Fatalf("state %d: Check(%+v) differs after restore: (%+v %v %v) vs (%+v %v %v)",
						i, b, d1, dup1, err1, d2, dup2, err2)
				}
			}
		}
	}
}

func TestSnapshotIsDeterministic(t *testing.T) {
	batches := []Batch{
		{ProducerID: 30, Epoch: 1, FirstSeq: 0, LastSeq: 4, BaseOffset: 0, LastOffset: 4},
		{ProducerID: 10, Epoch: 0, FirstSeq: 0, LastSeq: 0, BaseOffset: 5, LastOffset: 5},
		{ProducerID: 20, Epoch: 2, FirstSeq: 9, LastSeq: 9, BaseOffset: 6, LastOffset: 6},
		{ProducerID: 10, Epoch: 0, FirstSeq: 1, LastSeq: 1, BaseOffset: 7, LastOffset: 7},
	}
	a, b := New(), New()
	for _, x := range batches {
		a.Apply(x, 1)
	}
	// Same per-producer order, different interleaving across producers.
	for _, i := range []int{1, 3, 2, 0} {
		b.Apply(batches[i], 1)
	}
	if string(a.MarshalSnapshot(8)) != string(b.MarshalSnapshot(8)) {
		t.Fatal("equal states encode differently")
	}
}

func TestSnapshotEmptyState(t *testing.T) {
	s, off, err := UnmarshalSnapshot(New().MarshalSnapshot(0))
	if err != nil || off != 0 || s.Len() != 0 {
		t.Fatalf("empty snapshot: len=%v off=%d err=%v", s, off, err)
	}
	// A restored empty state is usable.
	s.Apply(mk(1, 0, 0, 1), 0)
	if s.Len() != 1 {
		t.Fatal("restored state does not record producers")
	}
}

func sampleSnapshot() []byte {
	s := New()
	s.Apply(Batch{ProducerID: 1, Epoch: 0, FirstSeq: 0, LastSeq: 2, BaseOffset: 0, LastOffset: 2, MaxTimestamp: 100}, 1000)
	s.Apply(Batch{ProducerID: 1, Epoch: 0, FirstSeq: 3, LastSeq: 3, BaseOffset: 5, LastOffset: 5, MaxTimestamp: 101}, 1001)
	s.Apply(Batch{ProducerID: 42, Epoch: 7, FirstSeq: math.MaxInt32, LastSeq: 0, BaseOffset: 3, LastOffset: 4, MaxTimestamp: 102}, 1002)
	return s.MarshalSnapshot(6)
}

// resum recomputes the trailing checksum so a test can reach the structural
// checks behind it.
func resum(data []byte) []byte {
	body := data[:len(data)-crcSize]
	return binary.BigEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
}

func TestSnapshotCorruptionIsDetected(t *testing.T) {
	good := sampleSnapshot()
	if _, _, err := UnmarshalSnapshot(good); err != nil {
		t.Fatalf("sample snapshot: %v", err)
	}
	expectCorrupt := func(t *testing.T, data []byte, why string) {
		t.Helper()
		s, _, err := UnmarshalSnapshot(data)
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: err = %v, want ErrCorruptSnapshot", why, err)
		}
		if s != nil {
			t.Fatalf("%s: returned a state along with the error", why)
		}
	}
	t.Run("every flipped byte", func(t *testing.T) {
		for i := range good {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				data := append([]byte(nil), good...)
				data[i] ^= mask
				expectCorrupt(t, data, "flip at "+strconv.Itoa(i))
			}
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		for n := 0; n < len(good); n++ {
			expectCorrupt(t, good[:n], "truncated to "+strconv.Itoa(n))
		}
	})
	t.Run("appended garbage", func(t *testing.T) {
		expectCorrupt(t, append(append([]byte(nil), good...), 0), "extra byte")
	})

	// Structural damage behind a valid checksum.
	edit := func(f func(d []byte)) []byte {
		d := append([]byte(nil), good...)
		f(d)
		return resum(d)
	}
	const firstProducer = headerSize
	cases := []struct {
		name    string
		data    []byte
		message string
	}{
		{"wrong version", edit(func(d []byte) { binary.BigEndian.PutUint16(d[4:], 2) }), "unsupported version 2"},
		{"wrong magic", edit(func(d []byte) { copy(d, "XXXX") }), "bad magic"},
		{"count too large", edit(func(d []byte) { binary.BigEndian.PutUint32(d[14:], math.MaxUint32) }), "cannot fit"},
		{"count too small", edit(func(d []byte) { binary.BigEndian.PutUint32(d[14:], 1) }), "trailing bytes"},
		{"count one too many", edit(func(d []byte) { binary.BigEndian.PutUint32(d[14:], 3) }), "truncated"},
		{"too many batches", edit(func(d []byte) { d[firstProducer+18] = RetainedBatches + 1 }), "at most 5"},
		{"negative producer id", edit(func(d []byte) { binary.BigEndian.PutUint64(d[firstProducer:], math.MaxUint64) }), "increasing"},
		{"ids out of order", edit(func(d []byte) { binary.BigEndian.PutUint64(d[firstProducer:], 50) }), "increasing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := UnmarshalSnapshot(tc.data)
			expectCorrupt(t, tc.data, tc.name)
			if !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("error %q does not mention %q", err, tc.message)
			}
		})
	}
}
