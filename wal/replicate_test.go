package wal

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/chronik/chronik-node/wal/batch"
)

func TestAppendReplicatedCopiesTheLeader(t *testing.T) {
	leader, want := epochLog(t, t.TempDir())
	defer leader.Close()
	follower := openTest(t, t.TempDir(), testConfig())
	defer follower.Close()

	for follower.EndOffset() < leader.EndOffset() {
		data, err := leader.Read(follower.EndOffset(), leader.EndOffset(), 5000)
		if err != nil {
			t.Fatal(err)
		}
		last, err := follower.AppendReplicated(data)
		if err != nil {
			t.Fatal(err)
		}
		if last != follower.EndOffset()-1 {
			t.Fatalf("AppendReplicated returned %d, end is %d", last, follower.EndOffset())
		}
	}
	checkContent(t, follower, want)
	if !slices.Equal(follower.LeaderEpochs(), leader.LeaderEpochs()) {
		t.Fatalf("follower epochs %v, leader %v", follower.LeaderEpochs(), leader.LeaderEpochs())
	}
	if len(follower.segments) < 3 {
		t.Fatalf("replication did not roll segments: %d", len(follower.segments))
	}
	if last, err := follower.AppendReplicated(nil); err != nil || last != want.end()-1 {
		t.Fatalf("empty AppendReplicated: %d, %v", last, err)
	}
}

func TestAppendReplicatedRejectsBadInputAtomically(t *testing.T) {
	leader, want := epochLog(t, t.TempDir())
	defer leader.Close()
	follower := openTest(t, t.TempDir(), testConfig())
	defer follower.Close()
	two := bytes.Join(want.batches[:2], nil)
	if _, err := follower.AppendReplicated(bytes.Join(want.batches[:3], nil)); err != nil {
		t.Fatal(err)
	}
	good := bytes.Join(want.batches[3:6], nil)

	corrupt := append([]byte{}, good...)
	corrupt[len(corrupt)-3] ^= 1 // in the last batch: the first two must not land either
	gap := bytes.Join([][]byte{want.batches[3], want.batches[5]}, nil)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"does not start at the log end", two, ErrOffsetMismatch},
		{"offsets skip a batch", gap, ErrOffsetMismatch},
		{"corrupt last batch", corrupt, batch.ErrCorrupt},
		{"partial trailing batch", good[:len(good)-7], batch.ErrCorrupt},
	}
	for _, tt := range tests {
		_, err := follower.AppendReplicated(tt.data)
		if err == nil {
			t.Fatalf("%s: accepted", tt.name)
		}
		mustErrIs(t, err, tt.want)
		if follower.EndOffset() != want.headers[2].LastOffset()+1 {
			t.Fatalf("%s: end moved to %d", tt.name, follower.EndOffset())
		}
	}
	checkContent(t, follower, want.prefix(3))

	// A batch from an older epoch than the follower already has is fenced.
	newer := openTest(t, t.TempDir(), testConfig())
	defer newer.Close()
	if _, err := newer.AppendReplicated(bytes.Join(want.batches[:70], nil)); err != nil {
		t.Fatal(err)
	}
	old := append([]byte{}, want.batches[70]...)
	batch.SetPartitionLeaderEpoch(old, 1)
	_, err := newer.AppendReplicated(old)
	mustErrIs(t, err, ErrStaleEpoch)
}

func TestAppendReplicatedManyBatchesInOneCall(t *testing.T) {
	leader := openTest(t, t.TempDir(), testConfig())
	defer leader.Close()
	var want stored
	appendRandom(t, leader, &want, rand.New(rand.NewPCG(4, 4)), 200, 3)
	follower := openTest(t, t.TempDir(), testConfig())
	defer follower.Close()
	// One call spanning many segments: the writes are grouped per segment.
	if _, err := follower.AppendReplicated(bytes.Join(want.batches, nil)); err != nil {
		t.Fatal(err)
	}
	checkContent(t, follower, &want)
	for _, s := range follower.segments[:len(follower.segments)-1] {
		if s.size > follower.cfg.SegmentBytes {
			t.Fatalf("segment %d holds %d bytes, limit %d", s.base, s.size, follower.cfg.SegmentBytes)
		}
	}
}
