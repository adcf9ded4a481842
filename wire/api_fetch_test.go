package wire

import (
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A fetch in which no partition can be read (every topic id unknown, say, after the
// topic was deleted) answers at once, as Kafka does, instead of long-polling partitions
// it does not have: the consumer learns about the deleted topic without waiting out
// MaxWaitMillis.
func TestFetchOfOnlyUnknownTopicIDsDoesNotWait(t *testing.T) {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MinBytes, req.MaxWaitMillis, req.MaxBytes = 13, -1, 1, 600_000, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = [16]byte{9, 9, 9}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	resp, err := runDataHandler(t, req) // fails the test if the handler waits 10s
	fr, ok := resp.(*kmsg.FetchResponse)
	if err != nil || !ok || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 || fr.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("fetch of an unknown topic id answered %+v, %v", resp, err)
	}
}

// An error answer to a Fetch (UNSUPPORTED_VERSION for v0-3, say) carries an empty record
// set in each partition: a null one is a decoding failure to Sarama and librdkafka.
func TestFetchErrorResponseHasEmptyRecordSets(t *testing.T) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 3
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "old"
	rt.Partitions = append(rt.Partitions, kmsg.NewFetchRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	reg, err := NewRegistry(NewHandlers(nil, BrokerConfig{}, zerolog.Nop()).APIs()...)
	if err != nil {
		t.Fatal(err)
	}
	back := roundTrip[*kmsg.FetchResponse](t, reg.ErrorResponse(req, kerr.UnsupportedVersion.Code))
	p := back.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.UnsupportedVersion.Code || p.RecordBatches == nil {
		t.Fatalf("Fetch v3 error response: error %d, record set nil=%v", p.ErrorCode, p.RecordBatches == nil)
	}
}
