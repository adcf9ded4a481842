package wire

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func listOffsetsRequest(version int16, topic string, partitions ...int32) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = version, -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// Kafka refuses a partition listed twice in one ListOffsets request with INVALID_REQUEST
// in every place it appears; the other partitions are answered as usual.
func TestListOffsetsDuplicatePartitions(t *testing.T) {
	for _, c := range []struct {
		name       string
		partitions []int32
		want       []int16
	}{
		{"distinct", []int32{0, 1, 2}, []int16{0, 0, 0}},
		{"one twice", []int32{0, 1, 0}, []int16{kerr.InvalidRequest.Code, 0, kerr.InvalidRequest.Code}},
		{"one three times", []int32{2, 2, 2, 1}, []int16{kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := runDataHandler(t, listOffsetsRequest(9, fuzzTopic, c.partitions...))
			if err != nil {
				t.Fatal(err)
			}
			ps := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions
			if len(ps) != len(c.want) {
				t.Fatalf("%d answers for %d partitions", len(ps), len(c.want))
			}
			for i, p := range ps {
				if p.Partition != c.partitions[i] || p.ErrorCode != c.want[i] {
					t.Errorf("answer %d: partition %d error %d, want partition %d error %d", i, p.Partition, p.ErrorCode, c.partitions[i], c.want[i])
				}
				if p.ErrorCode != 0 && (p.Offset != -1 || p.LeaderEpoch != -1) {
					t.Errorf("answer %d: refused with offset %d, leader epoch %d", i, p.Offset, p.LeaderEpoch)
				}
			}
		})
	}
	// The same partition number in two topics is no duplicate.
	req := listOffsetsRequest(9, fuzzTopic, 0)
	req.Topics = append(req.Topics, listOffsetsRequest(9, "other", 0).Topics...)
	resp, err := runDataHandler(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 {
		t.Fatalf("partition 0 of %s beside partition 0 of another topic: error %d", fuzzTopic, p.ErrorCode)
	}
}

// FuzzListOffsetsHandler decodes arbitrary bytes as a ListOffsets request body (v0-10)
// and serves it: no panic, an answer for every partition asked about in order,
// INVALID_REQUEST exactly for the partitions named more than once, and a response a
// client can decode.
func FuzzListOffsetsHandler(f *testing.F) {
	f.Fuzz(func(t *testing.T, version uint8, body []byte) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = int16(version % 11)
		if req.ReadFrom(body) != nil {
			return
		}
		resp, err := runDataHandler(t, req)
		if err != nil || resp == nil {
			t.Fatalf("list offsets v%d: no response (%v)", req.Version, err)
		}
		type key struct {
			topic     string
			partition int32
		}
		named := map[key]int{}
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				named[key{rt.Topic, rp.Partition}]++
			}
		}
		lr := resp.(*kmsg.ListOffsetsResponse)
		if len(lr.Topics) != len(req.Topics) {
			t.Fatalf("%d topics asked, %d answered", len(req.Topics), len(lr.Topics))
		}
		for i, rt := range lr.Topics {
			if len(rt.Partitions) != len(req.Topics[i].Partitions) {
				t.Fatalf("topic %d: %d partitions asked, %d answered", i, len(req.Topics[i].Partitions), len(rt.Partitions))
			}
			for j, p := range rt.Partitions {
				if p.Partition != req.Topics[i].Partitions[j].Partition {
					t.Fatalf("answer %d/%d is for partition %d, asked %d", i, j, p.Partition, req.Topics[i].Partitions[j].Partition)
				}
				if dup := named[key{req.Topics[i].Topic, p.Partition}] > 1; dup != (p.ErrorCode == kerr.InvalidRequest.Code) {
					t.Fatalf("partition %s/%d named %d times: error %d", req.Topics[i].Topic, p.Partition, named[key{req.Topics[i].Topic, p.Partition}], p.ErrorCode)
				}
			}
		}
		decodesAsClient(t, resp, req.Version)
	})
}
