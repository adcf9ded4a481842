package fsm

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/metastore"
)

func uuid(b byte) metastore.UUID {
	var u metastore.UUID
	u[0], u[15] = b, 7
	return u
}

func create(name string, id byte, replicas ...[]int32) *Command {
	return &Command{CreateTopic: &CreateTopic{Name: name, ID: uuid(id), Replicas: replicas}}
}

// applyAll applies cmds in one batch and returns the results and the new image.
func applyAll(t *testing.T, base *metastore.Image, cmds ...*Command) ([]Result, *metastore.Image, *metastore.Changes) {
	t.Helper()
	b := NewBatch(base)
	var res []Result
	for _, c := range cmds {
		res = append(res, b.Apply(c))
	}
	b.SetApplied(base.Index+1, 1)
	img, ch := b.Done()
	return res, img, ch
}

func TestCreateTopicErrors(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("orders", 1, []int32{1}))
	cases := []struct {
		name string
		cmd  *Command
		want *kerr.Error
	}{
		{"exists", create("orders", 2, []int32{1}), kerr.TopicAlreadyExists},
		{"bad chars", create("or ders", 2, []int32{1}), kerr.InvalidTopicException},
		{"dot only", create(".", 2, []int32{1}), kerr.InvalidTopicException},
		{"too long", create(strings.Repeat("a", 250), 2, []int32{1}), kerr.InvalidTopicException},
		{"no partitions", create("x", 2), kerr.InvalidPartitions},
		{"duplicate replica", create("x", 2, []int32{1, 1}), kerr.InvalidReplicaAssignment},
		{"empty replicas", create("x", 2, []int32{}), kerr.InvalidReplicaAssignment},
		{"id in use", create("y", 1, []int32{1}), kerr.InvalidRequest},
		{"zero id", &Command{CreateTopic: &CreateTopic{Name: "z", Replicas: [][]int32{{1}}}}, kerr.InvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, img, _ := applyAll(t, base, tc.cmd)
			if res[0].Code != tc.want.Code {
				t.Fatalf("code %d (%s), want %s", res[0].Code, res[0].Message, tc.want.Message)
			}
			if len(img.Topics) != 1 {
				t.Fatalf("failed create changed the image: %v", img.SortedTopicNames())
			}
		})
	}
}

func TestMetricNameCollision(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("a.b", 1, []int32{1}))
	res, _, _ := applyAll(t, base, create("a_b", 2, []int32{1}))
	if res[0].Code != kerr.InvalidTopicException.Code {
		t.Fatalf("a_b next to a.b: code %d, want INVALID_TOPIC_EXCEPTION", res[0].Code)
	}
	// Once a.b is gone its metric name is free again.
	res, img, _ := applyAll(t, base, &Command{DeleteTopic: &DeleteTopic{Name: "a.b"}}, create("a_b", 2, []int32{1}))
	if !res[1].OK() || img.MetricNames["a_b"] != "a_b" {
		t.Fatalf("a_b after deleting a.b: %+v, metric names %v", res[1], img.MetricNames)
	}
	if base.MetricNames["a_b"] != "a.b" {
		t.Fatal("a later batch changed the base image's index")
	}
}

func TestCreateTopicSetsLeadersAndDoesNotTouchBase(t *testing.T) {
	base := metastore.NewImage()
	res, img, ch := applyAll(t, base, create("t", 1, []int32{2, 1}, []int32{1, 2}))
	if !res[0].OK() {
		t.Fatalf("create failed: %+v", res[0])
	}
	if len(base.Topics) != 0 {
		t.Fatal("the base image was modified")
	}
	tp := img.Topics["t"]
	if tp.Partitions[0].Leader != 2 || tp.Partitions[1].Leader != 1 {
		t.Fatalf("leaders %d,%d want first replica 2,1", tp.Partitions[0].Leader, tp.Partitions[1].Leader)
	}
	if !reflect.DeepEqual(tp.Partitions[0].ISR, []int32{2, 1}) {
		t.Fatalf("isr %v want full replica set", tp.Partitions[0].ISR)
	}
	if img.TopicByID(uuid(1)) != tp {
		t.Fatal("topic not found by id")
	}
	if ch.Topics["t"] != tp || ch.Index != 1 {
		t.Fatalf("changes do not record the topic at index 1: %+v", ch)
	}
}

func TestDeleteTopic(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("a", 1, []int32{1}), create("b", 2, []int32{1}))
	res, img, ch := applyAll(t, base,
		&Command{DeleteTopic: &DeleteTopic{Name: "a"}},
		&Command{DeleteTopic: &DeleteTopic{ID: uuid(2)}},
		&Command{DeleteTopic: &DeleteTopic{Name: "a"}},
		&Command{DeleteTopic: &DeleteTopic{ID: uuid(9)}},
	)
	want := []int16{0, 0, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicID.Code}
	for i, r := range res {
		if r.Code != want[i] {
			t.Errorf("delete %d: code %d want %d (%s)", i, r.Code, want[i], r.Message)
		}
	}
	if len(img.Topics) != 0 || len(img.TopicIDs) != 0 {
		t.Fatalf("topics left: %v", img.SortedTopicNames())
	}
	if v, ok := ch.Topics["a"]; !ok || v != nil {
		t.Fatal("deletion of a not recorded as a nil change")
	}
	if len(base.Topics) != 2 {
		t.Fatal("base image modified")
	}
}

func TestDeleteThenRecreateInOneBatch(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("a", 1, []int32{1}))
	res, img, ch := applyAll(t, base, &Command{DeleteTopic: &DeleteTopic{Name: "a"}}, create("a", 3, []int32{1}, []int32{1}))
	if !res[0].OK() || !res[1].OK() {
		t.Fatalf("results %+v", res)
	}
	if img.Topics["a"].ID != uuid(3) || len(img.Topics["a"].Partitions) != 2 || ch.Topics["a"] == nil {
		t.Fatalf("recreated topic wrong: %+v", img.Topics["a"])
	}
}

func TestCreatePartitions(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("a", 1, []int32{1}))
	res, img, _ := applyAll(t, base,
		&Command{CreatePartitions: &CreatePartitions{Topic: "a", Replicas: [][]int32{{1}, {1}}}},
		&Command{CreatePartitions: &CreatePartitions{Topic: "a"}},
		&Command{CreatePartitions: &CreatePartitions{Topic: "nope", Replicas: [][]int32{{1}}}},
	)
	if !res[0].OK() || res[1].Code != kerr.InvalidPartitions.Code || res[2].Code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("results %+v", res)
	}
	if n := len(img.Topics["a"].Partitions); n != 3 {
		t.Fatalf("%d partitions, want 3", n)
	}
	if n := len(base.Topics["a"].Partitions); n != 1 {
		t.Fatalf("base topic modified: %d partitions", n)
	}
}

func TestLeaderAndISRFencing(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("a", 1, []int32{1, 2, 3}))
	res, img, _ := applyAll(t, base,
		&Command{SetPartitionLeader: &SetPartitionLeader{Topic: "a", Partition: 0, Leader: 2, LeaderEpoch: 1}},
		&Command{SetPartitionLeader: &SetPartitionLeader{Topic: "a", Partition: 0, Leader: 3, LeaderEpoch: 1}},
		&Command{SetPartitionLeader: &SetPartitionLeader{Topic: "a", Partition: 0, Leader: 9, LeaderEpoch: 5}},
		&Command{UpdateISR: &UpdateISR{Topic: "a", Partition: 0, LeaderEpoch: 1, PartitionEpoch: 1, ISR: []int32{2, 3}}},
		&Command{UpdateISR: &UpdateISR{Topic: "a", Partition: 0, LeaderEpoch: 1, PartitionEpoch: 1, ISR: []int32{2}}},
		&Command{UpdateISR: &UpdateISR{Topic: "a", Partition: 0, LeaderEpoch: 0, PartitionEpoch: 2, ISR: []int32{2}}},
		&Command{UpdateISR: &UpdateISR{Topic: "a", Partition: 0, LeaderEpoch: 1, PartitionEpoch: 2, ISR: []int32{3}}},
		&Command{UpdateISR: &UpdateISR{Topic: "a", Partition: 7, LeaderEpoch: 1, PartitionEpoch: 2, ISR: []int32{2}}},
	)
	want := []*kerr.Error{nil, kerr.FencedLeaderEpoch, kerr.InvalidReplicaAssignment, nil, kerr.InvalidUpdateVersion, kerr.FencedLeaderEpoch, kerr.InvalidRequest, kerr.UnknownTopicOrPartition}
	for i, r := range res {
		var code int16
		if want[i] != nil {
			code = want[i].Code
		}
		if r.Code != code {
			t.Errorf("command %d: code %d want %d (%s)", i, r.Code, code, r.Message)
		}
	}
	p := img.Topics["a"].Partitions[0]
	if p.Leader != 2 || p.LeaderEpoch != 1 || !reflect.DeepEqual(p.ISR, []int32{2, 3}) || p.Epoch != 2 {
		t.Fatalf("partition %+v", p)
	}
}

func TestAssignPartitionDropsRemovedLeader(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("a", 1, []int32{1, 2}))
	res, img, _ := applyAll(t, base, &Command{AssignPartition: &AssignPartition{Topic: "a", Partition: 0, Replicas: []int32{2, 3}}})
	if !res[0].OK() {
		t.Fatal(res[0].Message)
	}
	p := img.Topics["a"].Partitions[0]
	if p.Leader != -1 || p.LeaderEpoch != 1 || !reflect.DeepEqual(p.ISR, []int32{2}) {
		t.Fatalf("partition %+v", p)
	}
}

func TestAlterConfigs(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), &Command{CreateTopic: &CreateTopic{Name: "a", ID: uuid(1), Replicas: [][]int32{{1}}, Configs: map[string]string{"retention.ms": "1000"}}})
	res, img, _ := applyAll(t, base,
		&Command{AlterConfigs: &AlterConfigs{ResourceType: ResourceTopic, ResourceName: "a", Set: map[string]string{"segment.bytes": "1024"}}},
		&Command{AlterConfigs: &AlterConfigs{ResourceType: ResourceBroker, ResourceName: "1", Set: map[string]string{"log.retention.ms": "5"}}},
		&Command{AlterConfigs: &AlterConfigs{ResourceType: ResourceTopic, ResourceName: "b", Set: map[string]string{"x": "y"}}},
	)
	if !res[0].OK() || !res[1].OK() || res[2].Code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("results %+v", res)
	}
	if want := map[string]string{"retention.ms": "1000", "segment.bytes": "1024"}; !reflect.DeepEqual(img.Topics["a"].Configs, want) {
		t.Fatalf("incremental: %v want %v", img.Topics["a"].Configs, want)
	}
	res, img2, ch := applyAll(t, img,
		&Command{AlterConfigs: &AlterConfigs{ResourceType: ResourceTopic, ResourceName: "a", Replace: true, Set: map[string]string{"cleanup.policy": "delete"}}},
		&Command{AlterConfigs: &AlterConfigs{ResourceType: ResourceBroker, ResourceName: "1", Delete: []string{"log.retention.ms"}}},
	)
	if !res[0].OK() || !res[1].OK() {
		t.Fatalf("results %+v", res)
	}
	if want := map[string]string{"cleanup.policy": "delete"}; !reflect.DeepEqual(img2.Topics["a"].Configs, want) {
		t.Fatalf("replace: %v want %v", img2.Topics["a"].Configs, want)
	}
	if _, ok := img2.BrokerConfigs["1"]; ok || ch.BrokerConfigs["1"] != nil {
		t.Fatal("deleting the last broker override should delete the resource")
	}
	if img.BrokerConfigs["1"]["log.retention.ms"] != "5" {
		t.Fatal("earlier image changed by a later batch")
	}
}

func TestBrokersClusterAndProducerIDs(t *testing.T) {
	b1 := metastore.Broker{ID: 1, Host: "127.0.0.1", Port: 9092}
	res, img, ch := applyAll(t, metastore.NewImage(),
		&Command{InitCluster: &InitCluster{ClusterID: "c1"}},
		&Command{InitCluster: &InitCluster{ClusterID: "c2"}},
		&Command{RegisterBroker: &RegisterBroker{Broker: b1}},
		&Command{RegisterBroker: &RegisterBroker{Broker: metastore.Broker{ID: 2, Port: 1}}},
		&Command{AllocateProducerIDs: &AllocateProducerIDs{Count: 10}},
		&Command{AllocateProducerIDs: &AllocateProducerIDs{Count: 10}},
		&Command{AllocateProducerIDs: &AllocateProducerIDs{Count: 0}},
		&Command{},
	)
	if img.ClusterID != "c1" {
		t.Fatalf("cluster id %q, the first InitCluster must win", img.ClusterID)
	}
	if img.Brokers[1] != b1 || len(img.Brokers) != 1 || *ch.Brokers[1] != b1 {
		t.Fatalf("brokers %+v", img.Brokers)
	}
	if res[3].Code != kerr.InvalidRequest.Code {
		t.Fatalf("invalid registration accepted: %+v", res[3])
	}
	if res[4].ProducerID != 1000 || res[5].ProducerID != 1010 || img.NextProducerID != 1020 || *ch.NextProducerID != 1020 {
		t.Fatalf("producer id blocks %d, %d next %d", res[4].ProducerID, res[5].ProducerID, img.NextProducerID)
	}
	if res[6].Code != kerr.InvalidRequest.Code || res[7].Code != kerr.InvalidRequest.Code {
		t.Fatalf("bad commands accepted: %+v %+v", res[6], res[7])
	}
}

func TestBatchWithoutTopicChangesSharesTopicMap(t *testing.T) {
	_, base, _ := applyAll(t, metastore.NewImage(), create("a", 1, []int32{1}))
	_, img, ch := applyAll(t, base, &Command{AllocateProducerIDs: &AllocateProducerIDs{Count: 1}})
	if reflect.ValueOf(img.Topics).Pointer() != reflect.ValueOf(base.Topics).Pointer() {
		t.Fatal("a batch that changes no topic copied the topic map")
	}
	if ch.Topics != nil {
		t.Fatal("changes list topics that did not change")
	}
}

func TestEntryRoundTrip(t *testing.T) {
	e := &Entry{Node: 3, Seq: 99, Cmds: []Command{*create("a", 1, []int32{1, 2})}}
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip: %+v want %+v", got, e)
	}
	if _, err := DecodeEntry([]byte("{not json")); err == nil {
		t.Fatal("garbage decoded without error")
	}
}
