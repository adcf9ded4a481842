package wire

import (
	"testing"

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

// The session epoch, not the session id, tells a full fetch from an incremental one
// (KIP-227, Kafka's FetchMetadata.isFull): a full fetch is served whatever id it carries
// (kafka-go's Client.Fetch sends id -1 with epoch -1), and since the broker keeps no
// sessions only an incremental one is refused with FETCH_SESSION_ID_NOT_FOUND.
func TestFetchSessionsByEpoch(t *testing.T) {
	for _, c := range []struct {
		id, epoch int32
		want      int16
	}{
		{0, -1, 0},  // sessionless: librdkafka, kafkajs, franz-go after its first fetch
		{0, 0, 0},   // asks for a session; the answer's id 0 says there is none
		{-1, -1, 0}, // kafka-go
		{7, 0, 0},   // a full fetch closing session 7, which does not exist
		{7, -1, 0},
		{7, 3, kerr.FetchSessionIDNotFound.Code}, // incremental: no such session
		{0, 1, kerr.FetchSessionIDNotFound.Code},
	} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MinBytes, req.MaxWaitMillis, req.MaxBytes = 13, -1, 1, 600_000, 1<<20
		req.SessionID, req.SessionEpoch = c.id, c.epoch
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = [16]byte{9, 9, 9}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)

		resp, err := runDataHandler(t, req)
		fr, ok := resp.(*kmsg.FetchResponse)
		if err != nil || !ok {
			t.Fatalf("session %d epoch %d: %+v, %v", c.id, c.epoch, resp, err)
		}
		if fr.ErrorCode != c.want || fr.SessionID != 0 {
			t.Errorf("session %d epoch %d: error %d, session id %d; want error %d, session id 0", c.id, c.epoch, fr.ErrorCode, fr.SessionID, c.want)
		}
		if c.want == 0 && (len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1) {
			t.Errorf("session %d epoch %d: a full fetch answered %+v", c.id, c.epoch, fr.Topics)
		}
	}
}
