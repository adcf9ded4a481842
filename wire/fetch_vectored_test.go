package wire

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// randomFetchResponse builds a Fetch response of the given version with a mix of empty,
// small and large record sets, tagged fields and aborted transactions, all of which the
// vectored encoder must reproduce byte for byte.
func randomFetchResponse(rng *rand.Rand, version int16) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	resp.ThrottleMillis = rng.Int32N(100)
	resp.SessionID = 0
	for t := range 1 + rng.IntN(3) {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = "topic-" + string(rune('a'+t))
		rt.TopicID[0] = byte(t + 1)
		for p := range 1 + rng.IntN(4) {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = int32(p)
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = rng.Int64N(1e6), rng.Int64N(1e6), rng.Int64N(1e3)
			switch rng.IntN(4) {
			case 0:
				rp.RecordBatches = []byte{}
			case 1:
				rp.RecordBatches = randomBytes(rng, 1+rng.IntN(vectorMinRecords-1))
			default:
				// Around the varint prefix's size steps (2^7, 2^14, 2^21 bytes).
				rp.RecordBatches = randomBytes(rng, vectorMinRecords+rng.IntN(3<<20))
			}
			if rng.IntN(4) == 0 {
				rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 7, FirstOffset: 9}}
			}
			if rng.IntN(4) == 0 {
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = 1, 3
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if rng.IntN(3) == 0 {
		resp.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: "localhost", Port: 9092}}
	}
	return resp
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestFetchVectoredMatchesEncoder: the pieces written for a vectored Fetch response are,
// end to end, exactly the frame kmsg encodes, for every version served, so clients read
// the same bytes either way; and the response is left as it was.
func TestFetchVectoredMatchesEncoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vectored := 0
	for version := int16(4); version <= 17; version++ {
		for range 8 {
			resp := randomFetchResponse(rng, version)
			want := appendResponse(nil, 42, resp)
			before := appendResponse(nil, 42, resp)

			frame, pieces, size, ok := encodeFetchVectored(make([]byte, 0, 64), 42, resp, rng.Uint64())
			if !ok {
				if len(frame) != 0 {
					t.Fatalf("v%d: declined but left %d bytes in the buffer", version, len(frame))
				}
				continue
			}
			vectored++
			got := bytes.Join(pieces, nil)
			if size != len(got) {
				t.Fatalf("v%d: size %d, pieces hold %d", version, size, len(got))
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("v%d: vectored frame (%d bytes) differs from the encoder's (%d bytes)", version, len(got), len(want))
			}
			if int(binary.BigEndian.Uint32(got)) != len(got)-4 {
				t.Fatalf("v%d: size prefix %d for a %d-byte frame", version, binary.BigEndian.Uint32(got), len(got))
			}
			if after := appendResponse(nil, 42, resp); !bytes.Equal(after, before) {
				t.Fatalf("v%d: encoding changed the response", version)
			}
		}
	}
	if vectored == 0 {
		t.Fatal("no response was vectored")
	}
}

// TestFetchVectoredIgnoresLookalikes: a topic named with a marker's exact bytes (possible
// only if a client knew the server's random nonce) must not be taken for a record set.
func TestFetchVectoredIgnoresLookalikes(t *testing.T) {
	const nonce = 0x0123456789abcdef
	for _, version := range []int16{11, 12} {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = version
		rt := kmsg.NewFetchResponseTopic()
		prefix := appendRecordsLength(nil, markerSize, version >= 12)
		rt.Topic = string(fetchMarker(prefix, nonce, 0))
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.RecordBatches = bytes.Repeat([]byte{7}, vectorMinRecords)
		rt.Partitions = []kmsg.FetchResponseTopicPartition{rp}
		resp.Topics = []kmsg.FetchResponseTopic{rt}

		want := appendResponse(nil, 1, resp)
		_, pieces, _, ok := encodeFetchVectored(nil, 1, resp, nonce)
		if ok && !bytes.Equal(bytes.Join(pieces, nil), want) {
			t.Fatalf("v%d: a topic name that looks like a marker corrupted the frame", version)
		}
	}
}
