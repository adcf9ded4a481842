package wire

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// roundTrip encodes resp and decodes it as a client would, at the same version.
func roundTrip[T kmsg.Response](t *testing.T, resp kmsg.Response) T {
	t.Helper()
	out := resp.RequestKind().ResponseKind()
	out.SetVersion(resp.GetVersion())
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("%s v%d error response does not decode: %v", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return out.(T)
}

const notLeader = int16(6) // NOT_LEADER_OR_FOLLOWER

func TestErrorResponseMirrorsProducePartitions(t *testing.T) {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	for _, name := range []string{"a", "b"} {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = name
		for _, p := range []int32{2, 7} {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = p
			rp.Records = []byte("not copied")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := roundTrip[*kmsg.ProduceResponse](t, ErrorResponse(req, notLeader))
	if resp.Version != 9 || len(resp.Topics) != 2 {
		t.Fatalf("got v%d with %d topics", resp.Version, len(resp.Topics))
	}
	for i, rt := range resp.Topics {
		if rt.Topic != req.Topics[i].Topic || len(rt.Partitions) != 2 {
			t.Fatalf("topic %d = %+v", i, rt)
		}
		for j, rp := range rt.Partitions {
			if rp.Partition != req.Topics[i].Partitions[j].Partition || rp.ErrorCode != notLeader {
				t.Fatalf("topic %s partition %d = %+v, want partition %d NOT_LEADER", rt.Topic, j, rp, req.Topics[i].Partitions[j].Partition)
			}
			// Defaults of the response elements survive (LogStartOffset defaults to -1).
			if rp.LogStartOffset != -1 || rp.LogAppendTime != -1 {
				t.Fatalf("partition defaults lost: %+v", rp)
			}
			if rp.ErrorMessage == nil || *rp.ErrorMessage == "" {
				t.Fatalf("partition %d has no error message", j)
			}
		}
	}
}

func TestErrorResponseFetchByTopicID(t *testing.T) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 13
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = [16]byte{1, 2, 3}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = 3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	resp := roundTrip[*kmsg.FetchResponse](t, ErrorResponse(req, notLeader))
	if resp.ErrorCode != notLeader || len(resp.Topics) != 1 || resp.Topics[0].TopicID != rt.TopicID ||
		len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].Partition != 3 ||
		resp.Topics[0].Partitions[0].ErrorCode != notLeader {
		t.Fatalf("fetch error response = %+v", resp)
	}
}

func TestErrorResponseFillsSingularFromScalarSlices(t *testing.T) {
	// OffsetFetch v7 lists partitions as []int32; the response has structs.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 7
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = "t"
	rt.Partitions = []int32{5, 1}
	of.Topics = append(of.Topics, rt)
	ofResp := roundTrip[*kmsg.OffsetFetchResponse](t, ErrorResponse(of, kerr.CoordinatorNotAvailable.Code))
	if ofResp.ErrorCode != kerr.CoordinatorNotAvailable.Code || len(ofResp.Topics) != 1 || len(ofResp.Topics[0].Partitions) != 2 ||
		ofResp.Topics[0].Partitions[0].Partition != 5 || ofResp.Topics[0].Partitions[1].Partition != 1 ||
		ofResp.Topics[0].Partitions[1].ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("offset fetch error response = %+v", ofResp)
	}

	// DescribeGroups lists groups as []string; the response has one struct per Group.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version = 5
	dg.Groups = []string{"g1", "g2"}
	dgResp := roundTrip[*kmsg.DescribeGroupsResponse](t, ErrorResponse(dg, kerr.CoordinatorLoadInProgress.Code))
	if len(dgResp.Groups) != 2 || dgResp.Groups[0].Group != "g1" || dgResp.Groups[1].Group != "g2" ||
		dgResp.Groups[0].ErrorCode != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("describe groups error response = %+v", dgResp.Groups)
	}
}

func TestErrorResponseMetadataTopLevelAndTopics(t *testing.T) {
	req := metadataRequest(13, "x") // v13 added the top-level error code
	resp := roundTrip[*kmsg.MetadataResponse](t, ErrorResponse(req, kerr.UnsupportedVersion.Code))
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.Topics) != 1 || *resp.Topics[0].Topic != "x" ||
		resp.Topics[0].ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("metadata error response = %+v", resp)
	}
}

// Every request kmsg knows, at every version, gets an error response that a client can
// decode: the generic builder must work for APIs nobody wrote a builder for.
func TestErrorResponseEncodesForEveryKmsgRequest(t *testing.T) {
	for key := int16(0); key < 200; key++ {
		proto := kmsg.RequestForKey(key)
		if proto == nil {
			continue
		}
		for v := int16(0); v <= proto.MaxVersion(); v++ {
			req := kmsg.RequestForKey(key)
			req.SetVersion(v)
			// Decode an encoded default request so slices exist the way they would on
			// the wire, then build and round-trip the error response.
			if err := req.ReadFrom(req.AppendTo(nil)); err != nil {
				t.Fatalf("%s v%d: default request does not decode: %v", kmsg.NameForKey(key), v, err)
			}
			resp := ErrorResponse(req, kerr.UnsupportedVersion.Code)
			if resp.Key() != key || resp.GetVersion() != v {
				t.Fatalf("%s v%d: got %s v%d", kmsg.NameForKey(key), v, kmsg.NameForKey(resp.Key()), resp.GetVersion())
			}
			roundTrip[kmsg.Response](t, resp)
			if code := topLevelErrorCode(resp); code != 0 && code != kerr.UnsupportedVersion.Code {
				t.Fatalf("%s v%d: top-level error %d", kmsg.NameForKey(key), v, code)
			}
		}
	}
}

func TestRegistryErrorResponsePrefersTheAPIBuilder(t *testing.T) {
	reg, err := NewRegistry(API{Key: 3, MinVersion: 0, MaxVersion: 12,
		Handle: func(context.Context, *Request) (kmsg.Response, error) { return nil, nil },
		Error: func(req kmsg.Request, code int16) kmsg.Response {
			resp := req.ResponseKind().(*kmsg.MetadataResponse)
			resp.ErrorCode = code
			resp.ClusterID = kmsg.StringPtr("custom")
			resp.SetVersion(0) // the registry pins the version back to the request's
			return resp
		}})
	if err != nil {
		t.Fatal(err)
	}
	resp := reg.ErrorResponse(metadataRequest(11), notLeader).(*kmsg.MetadataResponse)
	if resp.ClusterID == nil || *resp.ClusterID != "custom" || resp.ErrorCode != notLeader || resp.Version != 11 {
		t.Fatalf("got %+v, want the API's builder at v11", resp)
	}
	// No builder registered: the generic one.
	preq := kmsg.NewPtrProduceRequest()
	preq.Version = 7
	if _, ok := reg.ErrorResponse(preq, notLeader).(*kmsg.ProduceResponse); !ok {
		t.Fatal("no Produce response for an unregistered key")
	}
}
