package wire

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Fetch frame must never outgrow its size hint: the encoder allocates the hint once,
// and the hint exists so that megabytes of records are not copied again by growth.
func TestFrameSizeHintBoundsFetchResponses(t *testing.T) {
	rack := strings.Repeat("r", 40)
	for version := int16(4); version <= 17; version++ {
		for _, shape := range []struct {
			topics, partitions, batchBytes, aborted int
		}{
			{0, 0, 0, 0},
			{1, 1, 0, 0},
			{1, 8, 1 << 20, 0},
			{3, 50, 100, 3},
			{20, 1, 7, 1},
		} {
			resp := kmsg.NewPtrFetchResponse()
			resp.SetVersion(version)
			resp.ThrottleMillis, resp.ErrorCode, resp.SessionID = 1<<30, 1, 1<<30
			for ti := range shape.topics {
				st := kmsg.NewFetchResponseTopic()
				st.Topic = strings.Repeat("t", 200+ti)
				st.TopicID = [16]byte{1}
				for pi := range shape.partitions {
					sp := kmsg.NewFetchResponseTopicPartition()
					sp.Partition, sp.ErrorCode = int32(pi)<<20, 3
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = 1<<62, 1<<62, 1<<62
					sp.PreferredReadReplica = 1 << 30
					sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = 1<<30, 1<<62
					sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = 1<<30, 1<<30
					sp.SnapshotID.Epoch, sp.SnapshotID.EndOffset = 1<<30, 1<<62
					for range shape.aborted {
						a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
						a.ProducerID, a.FirstOffset = 1<<62, 1<<62
						sp.AbortedTransactions = append(sp.AbortedTransactions, a)
					}
					sp.RecordBatches = make([]byte, shape.batchBytes+pi)
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			for i := range 3 {
				b := kmsg.NewFetchResponseBroker()
				b.NodeID, b.Host, b.Port, b.Rack = int32(i)<<20, strings.Repeat("h", 100), 1<<20, &rack
				resp.Brokers = append(resp.Brokers, b)
			}
			hint := frameSizeHint(resp)
			got := len(appendResponse(nil, 1<<30, resp))
			if got > hint {
				t.Errorf("Fetch v%d %+v: frame of %d bytes, hint %d", version, shape, got, hint)
			}
		}
	}
}

func TestFrameSizeHintIsZeroForResponsesWithoutRecords(t *testing.T) {
	if got := frameSizeHint(kmsg.NewPtrMetadataResponse()); got != 0 {
		t.Errorf("Metadata response hint = %d, want 0 (no preallocation)", got)
	}
}
