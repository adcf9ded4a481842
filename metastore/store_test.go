package metastore

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func sampleTopic(name string, parts int) *Topic {
	t := &Topic{Name: name, ID: NewUUID(), Configs: map[string]string{"retention.ms": "60000"}}
	for i := 0; i < parts; i++ {
		t.Partitions = append(t.Partitions, Partition{Replicas: []int32{1, 2}, Leader: 1, LeaderEpoch: 3, ISR: []int32{1}, Epoch: 4})
	}
	return t
}

func TestStoreRoundTrip(t *testing.T) {
	s, path := openTemp(t)
	if img, err := s.Load(); err != nil || !img.Empty() {
		t.Fatalf("new store: empty=%v err=%v", img.Empty(), err)
	}
	a, b := sampleTopic("a", 3), sampleTopic("b", 1)
	cid := "cluster-1"
	npid := int64(5000)
	c := &Changes{
		Index: 42, Term: 7, ConfState: &ConfState{Voters: []uint64{1, 2, 3}}, ClusterID: &cid, NextProducerID: &npid,
		Brokers:       map[int32]*Broker{1: {ID: 1, Host: "h", Port: 9092, Rack: "r1"}},
		Topics:        map[string]*Topic{"a": a, "b": b},
		BrokerConfigs: map[string]map[string]string{"": {"num.partitions": "3"}},
	}
	if err := s.Commit(c); err != nil {
		t.Fatal(err)
	}
	// A second batch deletes b and a broker config resource.
	if err := s.Commit(&Changes{Index: 43, Term: 7, Topics: map[string]*Topic{"b": nil}, BrokerConfigs: map[string]map[string]string{"": nil}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if img.Index != 43 || img.Term != 7 || img.ClusterID != cid || img.NextProducerID != npid {
		t.Fatalf("meta: index %d term %d cluster %q npid %d", img.Index, img.Term, img.ClusterID, img.NextProducerID)
	}
	if !reflect.DeepEqual(img.ConfState.Voters, []uint64{1, 2, 3}) {
		t.Fatalf("conf state %+v", img.ConfState)
	}
	if !reflect.DeepEqual(img.Topics["a"], a) || img.Topics["b"] != nil || img.TopicByID(a.ID) == nil {
		t.Fatalf("topics: %+v", img.Topics)
	}
	if img.Brokers[1].Rack != "r1" || len(img.BrokerConfigs) != 0 {
		t.Fatalf("brokers %+v configs %+v", img.Brokers, img.BrokerConfigs)
	}
	if idx, term, err := s.Applied(); err != nil || idx != 43 || term != 7 {
		t.Fatalf("applied %d/%d err %v", idx, term, err)
	}
}

func TestStoreRefusesOtherSchema(t *testing.T) {
	s, path := openTemp(t)
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("open with schema 99: %v, want ErrSchemaMismatch", err)
	}
}

func TestReplaceAndImageCodec(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	if err := s.Commit(&Changes{Index: 5, Term: 1, Topics: map[string]*Topic{"old": sampleTopic("old", 1)}}); err != nil {
		t.Fatal(err)
	}
	img := NewImage()
	img.Index, img.Term, img.ClusterID = 100, 3, "c"
	img.ConfState.Voters = []uint64{1}
	img.Brokers[1] = Broker{ID: 1, Host: "h", Port: 1}
	nt := sampleTopic("new", 2)
	img.Topics["new"] = nt
	img.TopicIDs[nt.ID] = "new"
	data, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decoded, img) {
		t.Fatalf("codec round trip:\n%+v\n%+v", decoded, img)
	}
	if err := s.Replace(decoded); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Topics["old"]; ok || got.Index != 100 || !reflect.DeepEqual(got.Topics["new"], nt) {
		t.Fatalf("replace left %v at index %d", got.SortedTopicNames(), got.Index)
	}
	if _, err := DecodeImage([]byte("nope")); err == nil {
		t.Fatal("garbage image decoded")
	}
}

func TestUUIDText(t *testing.T) {
	u := NewUUID()
	if u.IsZero() || u.reserved() {
		t.Fatal("reserved id generated")
	}
	var back UUID
	if err := back.UnmarshalText([]byte(u.String())); err != nil || back != u {
		t.Fatalf("round trip %s -> %s (%v)", u, back, err)
	}
	if err := back.UnmarshalText([]byte("AAAA")); err == nil {
		t.Fatal("short id accepted")
	}
	if err := back.UnmarshalText([]byte(u.String() + "AAAAAAAA")); err == nil {
		t.Fatal("long id accepted")
	}
}
