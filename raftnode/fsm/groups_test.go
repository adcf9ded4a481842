package fsm

import (
	"reflect"
	"testing"

	"github.com/chronik/chronik-node/metastore"
)

func commit(group string, offsets ...OffsetCommit) *Command {
	return &Command{CommitOffsets: &CommitOffsets{Group: group, Offsets: offsets}}
}

func oc(topic string, p int32, off int64) OffsetCommit {
	return OffsetCommit{Topic: topic, Partition: p, Offset: off, LeaderEpoch: 1, Metadata: "md", CommitTimestampMs: 500}
}

func TestCommitOffsetsRecordsExistingPartitionsOnly(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("t", 1, []int32{1}, []int32{1}))
	res, img, ch := applyAll(t, base, commit("g", oc("t", 0, 10), oc("t", 1, 11), oc("t", 2, 12), oc("nope", 0, 13)))
	if !res[0].OK() {
		t.Fatalf("commit: %+v", res[0])
	}
	if img.Topics["t"] != base.Topics["t"] {
		t.Fatal("an offset commit copied the topic: group state must stay out of the image")
	}
	want := map[metastore.OffsetKey]*metastore.CommittedOffset{
		{Group: "g", Topic: "t", Partition: 0}: {Offset: 10, LeaderEpoch: 1, Metadata: "md", CommitTimestampMs: 500},
		{Group: "g", Topic: "t", Partition: 1}: {Offset: 11, LeaderEpoch: 1, Metadata: "md", CommitTimestampMs: 500},
	}
	if !reflect.DeepEqual(ch.Groups.Offsets, want) {
		t.Fatalf("offsets changed: %+v", ch.Groups.Offsets)
	}
}

func TestGroupCommandsKeepBatchOrder(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("t", 1, []int32{1}), create("u", 2, []int32{1}))
	_, _, ch := applyAll(t, base,
		commit("g", oc("t", 0, 1), oc("u", 0, 2)),
		&Command{StoreGroup: &StoreGroup{Group: metastore.GroupRecord{Name: "g", Generation: 3}}},
		&Command{DeleteGroup: &DeleteGroup{Group: "g"}},
		commit("g", oc("u", 0, 3)), // after the delete: survives the purge
		commit("h", oc("t", 0, 4)), // another group, then its topic goes
		&Command{DeleteTopic: &DeleteTopic{Name: "t"}},
		&Command{DeleteOffsets: &DeleteOffsets{Group: "h", Partitions: []GroupPartition{{Topic: "u", Partition: 0}}}},
	)
	gc := ch.Groups
	if !gc.PurgeGroups["g"] || !gc.PurgeTopics["t"] {
		t.Fatalf("purges: groups %v topics %v", gc.PurgeGroups, gc.PurgeTopics)
	}
	want := map[metastore.OffsetKey]*metastore.CommittedOffset{
		{Group: "g", Topic: "u", Partition: 0}: {Offset: 3, LeaderEpoch: 1, Metadata: "md", CommitTimestampMs: 500},
		{Group: "h", Topic: "u", Partition: 0}: nil,
	}
	if !reflect.DeepEqual(gc.Offsets, want) {
		t.Fatalf("offsets after the batch: %+v", gc.Offsets)
	}
	if rec, ok := gc.Groups["g"]; !ok || rec != nil {
		t.Fatalf("group record of g: %+v (present %v), want a deletion", rec, ok)
	}
}

func TestGroupChangesReachTheStore(t *testing.T) {
	store, err := metastore.Open(t.TempDir()+"/meta.db", metastore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, base, _ := applyAll(t, metastore.NewImage(), create("t", 1, []int32{1}))
	rec := metastore.GroupRecord{Name: "g", ProtocolType: "consumer", Protocol: "range", Generation: 2, Leader: "m",
		Members: []metastore.GroupMember{{ID: "m", SessionTimeoutMs: 6000, Assignment: []byte{1}}}}
	res, _, ch := applyAll(t, base, commit("g", oc("t", 0, 42)), &Command{StoreGroup: &StoreGroup{Group: rec}},
		&Command{StoreGroup: &StoreGroup{Group: metastore.GroupRecord{Name: "bad", Generation: -1}}})
	if !res[0].OK() || !res[1].OK() || res[2].OK() {
		t.Fatalf("results %+v", res)
	}
	if err := store.Commit(ch); err != nil {
		t.Fatal(err)
	}
	offs, err := store.LoadOffsets("g")
	if err != nil || len(offs) != 1 || offs[0].Offset != 42 || offs[0].Topic != "t" {
		t.Fatalf("stored offsets %+v (%v)", offs, err)
	}
	got, err := store.LoadGroup("g")
	if err != nil || !reflect.DeepEqual(*got, rec) {
		t.Fatalf("stored group %+v (%v)", got, err)
	}
}

func TestGroupCommandNames(t *testing.T) {
	for name, c := range map[string]Command{
		"CommitOffsets": {CommitOffsets: &CommitOffsets{}}, "DeleteOffsets": {DeleteOffsets: &DeleteOffsets{}},
		"StoreGroup": {StoreGroup: &StoreGroup{}}, "DeleteGroup": {DeleteGroup: &DeleteGroup{}},
	} {
		if c.Name() != name {
			t.Fatalf("Name() = %q, want %q", c.Name(), name)
		}
		e := Entry{Node: 1, Seq: 2, Cmds: []Command{c}}
		data, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeEntry(data)
		if err != nil || back.Cmds[0].Name() != name {
			t.Fatalf("%s did not survive the entry codec: %v", name, err)
		}
	}
}
