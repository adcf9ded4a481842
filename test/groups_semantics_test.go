package test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// commitWithMetadata sends one OffsetCommit of partitions 0..len(metadata)-1 of topic,
// each with the given metadata, and returns the per-partition codes.
func (c groupClient) commitWithMetadata(group, memberID string, gen int32, topic string, metadata ...string) []int16 {
	c.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, memberID, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for i := range metadata {
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.Metadata = int32(i), 1, &metadata[i]
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testContext(c.t), c.cl)
	if err != nil {
		c.t.Fatalf("commit: %v", err)
	}
	var codes []int16
	for _, p := range resp.Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	return codes
}

// TestOffsetCommitChecksTheMemberBeforeTheMetadata: Kafka validates the committer
// (OffsetMetadataManager.commitOffset calls validateOffsetCommit before it looks at any
// partition's metadata), so a fenced or unknown member learns that it must rejoin from
// every partition, the oversized ones included, rather than a non-retriable
// OFFSET_METADATA_TOO_LARGE that hides it.
func TestOffsetCommitChecksTheMemberBeforeTheMetadata(t *testing.T) {
	n := startNode(t, groupConfig)
	if _, err := n.admin().CreateTopic(testContext(t), 2, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	v9 := kversion.Stable()
	v9.SetMaxKeyVersion(8, 9) // name topics, not ids
	c := groupClient{t: t, cl: n.client(kgo.MaxVersions(v9))}
	id, gen := c.member("g", nil)
	big, small := strings.Repeat("m", 4097), "ok" // offset.metadata.max.bytes is 4096

	codes := c.commitWithMetadata("g", "nobody", gen, "t", big, small)
	wantCode(t, "oversized metadata from an unknown member", codes[0], kerr.UnknownMemberID)
	wantCode(t, "fitting metadata from an unknown member", codes[1], kerr.UnknownMemberID)
	codes = c.commitWithMetadata("g", id, gen+1, "t", big)
	wantCode(t, "only oversized metadata, wrong generation", codes[0], kerr.IllegalGeneration)
	codes = c.commitWithMetadata("g", "", -1, "t", big)
	wantCode(t, "standalone commit of oversized metadata to a group with members", codes[0], kerr.UnknownMemberID)

	// The member itself still gets the metadata error for the oversized partition only.
	codes = c.commitWithMetadata("g", id, gen, "t", big, small)
	wantCode(t, "oversized metadata from the member", codes[0], kerr.OffsetMetadataTooLarge)
	if codes[1] != 0 {
		t.Fatalf("fitting metadata from the member: %v", kerr.ErrorForCode(codes[1]))
	}
	codes = c.commitWithMetadata("standalone", "", -1, "t", big)
	wantCode(t, "standalone commit of oversized metadata to no group", codes[0], kerr.OffsetMetadataTooLarge)
}
