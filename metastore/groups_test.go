package metastore

import (
	"reflect"
	"testing"
)

func offset(off int64) *CommittedOffset {
	return &CommittedOffset{Offset: off, LeaderEpoch: 2, Metadata: "m", CommitTimestampMs: 1000 + off}
}

func TestGroupStateRoundTrip(t *testing.T) {
	s, path := openTemp(t)
	inst := "static-1"
	rec := &GroupRecord{
		Name: "g1", ProtocolType: "consumer", Protocol: "range", Generation: 4, Leader: "m1", StateSinceMs: 77,
		Members: []GroupMember{{ID: "m1", InstanceID: &inst, ClientID: "c", ClientHost: "/1.2.3.4", SessionTimeoutMs: 10000,
			RebalanceTimeoutMs: 60000, Metadata: []byte{1, 2}, Assignment: []byte{3}}},
	}
	err := s.Commit(&Changes{Index: 2, Term: 1, Groups: &GroupChanges{
		Offsets: map[OffsetKey]*CommittedOffset{
			{"g1", "t", 0}:  offset(10),
			{"g1", "t", 1}:  offset(11),
			{"g1", "u", 0}:  offset(12),
			{"g10", "t", 0}: offset(13), // shares the "g1" text prefix
			{"", "t", 0}:    offset(14), // Kafka allows an empty group id for commits
		},
		Groups: map[string]*GroupRecord{"g1": rec},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	got, err := s.LoadOffsets("g1")
	if err != nil {
		t.Fatal(err)
	}
	want := []CommittedOffset{
		{Topic: "t", Partition: 0, Offset: 10, LeaderEpoch: 2, Metadata: "m", CommitTimestampMs: 1010},
		{Topic: "t", Partition: 1, Offset: 11, LeaderEpoch: 2, Metadata: "m", CommitTimestampMs: 1011},
		{Topic: "u", Partition: 0, Offset: 12, LeaderEpoch: 2, Metadata: "m", CommitTimestampMs: 1012},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("offsets of g1:\n got %+v\nwant %+v", got, want)
	}
	if got, _ := s.LoadOffsets(""); len(got) != 1 || got[0].Offset != 14 {
		t.Fatalf("offsets of the empty group: %+v", got)
	}
	g, err := s.LoadGroup("g1")
	if err != nil || !reflect.DeepEqual(g, rec) {
		t.Fatalf("group record: %+v (%v), want %+v", g, err, rec)
	}
	if g, err := s.LoadGroup("g10"); g != nil || err != nil {
		t.Fatalf("g10 has only offsets, got record %+v (%v)", g, err)
	}
	all, err := s.LoadGroups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range all {
		names = append(names, g.Name)
	}
	if !reflect.DeepEqual(names, []string{"", "g1", "g10"}) || all[1].Generation != 4 {
		t.Fatalf("LoadGroups: %v", names)
	}
}

func TestGroupChangesPurgeBeforeWrite(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	seed := &GroupChanges{
		Offsets: map[OffsetKey]*CommittedOffset{
			{"a", "t", 0}: offset(1), {"a", "gone", 0}: offset(2),
			{"b", "t", 0}: offset(3), {"b", "gone", 3}: offset(4),
		},
		Groups: map[string]*GroupRecord{"a": {Name: "a"}, "b": {Name: "b"}},
	}
	if err := s.Commit(&Changes{Index: 2, Term: 1, Groups: seed}); err != nil {
		t.Fatal(err)
	}
	// One batch: group a deleted then committed to again, topic "gone" deleted, one
	// offset of b deleted explicitly.
	err := s.Commit(&Changes{Index: 3, Term: 1, Groups: &GroupChanges{
		PurgeGroups: map[string]bool{"a": true},
		PurgeTopics: map[string]bool{"gone": true},
		Offsets:     map[OffsetKey]*CommittedOffset{{"a", "t", 5}: offset(9), {"b", "t", 0}: nil},
		Groups:      map[string]*GroupRecord{"a": nil},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.LoadOffsets("a")
	if len(a) != 1 || a[0].Partition != 5 || a[0].Offset != 9 {
		t.Fatalf("group a after purge and re-commit: %+v", a)
	}
	if b, _ := s.LoadOffsets("b"); len(b) != 0 {
		t.Fatalf("group b kept %+v", b)
	}
	if g, _ := s.LoadGroup("a"); g != nil {
		t.Fatalf("deleted record of a still there: %+v", g)
	}
	all, _ := s.LoadGroups()
	if len(all) != 2 || all[0].Name != "a" || all[1].Name != "b" {
		t.Fatalf("groups after changes: %+v", all)
	}
}

func TestReplaceKeepsGroupState(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	if err := s.Commit(&Changes{Index: 2, Term: 1, Groups: &GroupChanges{
		Offsets: map[OffsetKey]*CommittedOffset{{"g", "t", 0}: offset(5)},
	}}); err != nil {
		t.Fatal(err)
	}
	img := NewImage()
	img.Index, img.Term = 50, 2
	if err := s.Replace(img); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LoadOffsets("g"); len(got) != 1 {
		t.Fatalf("offsets after Replace: %+v", got)
	}
}

func TestOffsetKeyCodec(t *testing.T) {
	for _, k := range []OffsetKey{{"", "", 0}, {"g", "t", -1}, {"a/b\x00c", "topic.x", 1 << 30}} {
		got, ok := decodeOffsetKey(encodeOffsetKey(k))
		if !ok || got != k {
			t.Fatalf("round trip %+v -> %+v (%v)", k, got, ok)
		}
	}
	for _, bad := range [][]byte{nil, {5, 'a'}, {1, 'g', 1, 't', 0, 0}, {1, 'g', 1, 't', 0, 0, 0, 0, 9}} {
		if _, ok := decodeOffsetKey(bad); ok {
			t.Fatalf("malformed key %x decoded", bad)
		}
	}
}

// FuzzDecodeOffsetKey: any bytes decode without panicking, and what decodes encodes to
// a key that decodes to the same thing.
func FuzzDecodeOffsetKey(f *testing.F) {
	f.Add(encodeOffsetKey(OffsetKey{"group", "topic", 3}))
	f.Add(encodeOffsetKey(OffsetKey{"", "", 0}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, ok := decodeOffsetKey(b)
		if !ok {
			return
		}
		back, ok := decodeOffsetKey(encodeOffsetKey(k))
		if !ok || back != k {
			t.Fatalf("%x decoded to %+v, which re-encodes to %+v", b, k, back)
		}
	})
}
