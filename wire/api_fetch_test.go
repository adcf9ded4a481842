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
