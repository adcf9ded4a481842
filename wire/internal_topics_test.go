package wire

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// A __consumer_offsets that an older version auto-created as an ordinary topic is Kafka's
// internal topic to a client: Metadata flags it internal, and appends and DeleteRecords
// are refused with INVALID_TOPIC_EXCEPTION, as Kafka refuses them for its internal topics.
// An ordinary topic beside it is served as before.
func TestLegacyInternalTopicRefusesWrites(t *testing.T) {
	cluster := newFakeCluster()
	legacy := &metastore.Topic{Name: "__consumer_offsets", ID: metastore.UUID{7}}
	legacy.Partitions = []metastore.Partition{{Replicas: []int32{1}, Leader: 1, ISR: []int32{1}}}
	cluster.img.Topics[legacy.Name] = legacy
	cluster.img.TopicIDs[legacy.ID] = legacy.Name

	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(legacy.Name)}, {Topic: kmsg.StringPtr(fuzzTopic)}}
	resp, err := runHandlerOn(t, cluster, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range resp.(*kmsg.MetadataResponse).Topics {
		if want := *mt.Topic == legacy.Name; mt.ErrorCode != 0 || mt.IsInternal != want {
			t.Errorf("Metadata for %s: error %d, internal %v; want no error, internal %v", *mt.Topic, mt.ErrorCode, mt.IsInternal, want)
		}
	}

	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks, produce.TimeoutMillis = 9, -1, 1000
	for _, name := range []string{legacy.Name, fuzzTopic} {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = name
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batchtest.Build(batchtest.DefaultOptions(1700000000000), batchtest.Values(2, 10))
		rt.Partitions = append(rt.Partitions, rp)
		produce.Topics = append(produce.Topics, rt)
	}
	resp, err = runHandlerOn(t, cluster, produce)
	if err != nil {
		t.Fatal(err)
	}
	pr := resp.(*kmsg.ProduceResponse)
	if p := pr.Topics[0].Partitions[0]; p.ErrorCode != kerr.InvalidTopicException.Code || p.ErrorMessage == nil || *p.ErrorMessage != "Cannot append to internal topic __consumer_offsets" {
		t.Errorf("produce to the legacy internal topic: error %d %v; want INVALID_TOPIC_EXCEPTION", p.ErrorCode, p.ErrorMessage)
	}
	if p := pr.Topics[1].Partitions[0]; p.ErrorCode != 0 {
		t.Errorf("produce to %s beside it: error %d", fuzzTopic, p.ErrorCode)
	}

	del := kmsg.NewPtrDeleteRecordsRequest()
	for _, name := range []string{legacy.Name, fuzzTopic} {
		del.Topics = append(del.Topics, kmsg.DeleteRecordsRequestTopic{Topic: name, Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: -1}}})
	}
	resp, err = runHandlerOn(t, cluster, del)
	if err != nil {
		t.Fatal(err)
	}
	dr := resp.(*kmsg.DeleteRecordsResponse)
	if p := dr.Topics[0].Partitions[0]; p.ErrorCode != kerr.InvalidTopicException.Code || p.LowWatermark != -1 {
		t.Errorf("DeleteRecords of the legacy internal topic: error %d, low watermark %d; want INVALID_TOPIC_EXCEPTION, -1", p.ErrorCode, p.LowWatermark)
	}
	if p := dr.Topics[1].Partitions[0]; p.ErrorCode != 0 || p.LowWatermark != 0 {
		t.Errorf("DeleteRecords of %s beside it: error %d, low watermark %d", fuzzTopic, p.ErrorCode, p.LowWatermark)
	}
}
