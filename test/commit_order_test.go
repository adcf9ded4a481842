package test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// TestPipelinedCommitsApplyInOrder sends many OffsetCommits for one partition on one
// connection without waiting for answers, each a higher offset, and expects the last to
// be the one stored: Kafka handles a connection's requests in order. A client relies on
// it when a commit it gave up on (kgo cancels one when it closes) is still on the wire
// ahead of its next commit: handled out of order, the older commit landed last and the
// group's committed offset went back (the chaos test saw it fall 750-830 records below
// a commit the broker had acknowledged).
func TestPipelinedCommitsApplyInOrder(t *testing.T) {
	n := startNode(t, "")
	const topic, group, commits, rounds = "ordered-commits", "pipelined", 100, 10
	createTopic(t, n, topic, 1, nil)

	c, r := dialPipelining(t, n)
	adm := n.admin()
	// Rounds: the goroutines racing in one round may happen to finish in order.
	for round := int64(0); round < rounds; round++ {
		var burst []byte
		first := round*commits + 1
		for i := int32(0); i < commits; i++ {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Version = 7
			req.Group, req.Generation = group, -1 // a standalone commit: the group has no members
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = 0, first+int64(i)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			burst = appendRequestFrame(burst, i, req)
		}
		if _, err := c.Write(burst); err != nil {
			t.Fatal(err)
		}
		for i := int32(0); i < commits; i++ {
			resp := kmsg.NewPtrOffsetCommitResponse()
			resp.Version = 7
			readResponseFrame(t, r, i, resp)
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Fatalf("commit %d: error %d", i, code)
			}
		}
		offs, err := adm.FetchOffsets(testContext(t), group)
		if err != nil || offs.Error() != nil {
			t.Fatalf("fetch offsets: %v %v", err, offs.Error())
		}
		last := first + commits - 1
		if o, _ := offs.Lookup(topic, 0); o.At != last {
			t.Fatalf("round %d: commits of offsets %d..%d acknowledged in order, the group's offset is %d", round, first, last, o.At)
		}
	}
}

// appendRequestFrame appends a size-prefixed request with a v1 (non-flexible) header.
func appendRequestFrame(dst []byte, corr int32, req kmsg.Request) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	const clientID = "pipeliner"
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// TestPipelinedAdminChangesApplyInOrder creates a topic and deletes it with two requests
// sent back to back on one connection, several times: as on a Kafka broker, the delete
// follows the create, so both succeed and the topic is gone.
func TestPipelinedAdminChangesApplyInOrder(t *testing.T) {
	n := startNode(t, "")
	c, r := dialPipelining(t, n)
	const rounds = 20
	for round := 0; round < rounds; round++ {
		name := fmt.Sprintf("pipelined-%d", round)
		create := kmsg.NewPtrCreateTopicsRequest()
		create.Version, create.TimeoutMillis = 4, 30000
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic, ct.NumPartitions, ct.ReplicationFactor = name, 1, 1
		create.Topics = append(create.Topics, ct)
		del := kmsg.NewPtrDeleteTopicsRequest()
		del.Version, del.TimeoutMillis, del.TopicNames = 3, 30000, []string{name}
		burst := appendRequestFrame(nil, 1, create)
		burst = appendRequestFrame(burst, 2, del)
		if _, err := c.Write(burst); err != nil {
			t.Fatal(err)
		}
		createResp := kmsg.NewPtrCreateTopicsResponse()
		createResp.Version = 4
		readResponseFrame(t, r, 1, createResp)
		delResp := kmsg.NewPtrDeleteTopicsResponse()
		delResp.Version = 3
		readResponseFrame(t, r, 2, delResp)
		if code := createResp.Topics[0].ErrorCode; code != 0 {
			t.Fatalf("round %d: create: error %d", round, code)
		}
		if code := delResp.Topics[0].ErrorCode; code != 0 {
			t.Fatalf("round %d: the delete sent after the create got error %d", round, code)
		}
	}
	if names := n.topicNames(testContext(t)); len(names) != 0 {
		t.Fatalf("topics created then deleted, in that order, still exist: %v", names)
	}
}

// readResponseFrame reads one size-prefixed response with a v0 header into resp.
func readResponseFrame(t *testing.T, r io.Reader, corr int32, resp kmsg.Response) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		t.Fatalf("response %d: %v", corr, err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatalf("response %d: %v", corr, err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		t.Fatalf("response has correlation id %d, want %d", got, corr)
	}
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatalf("response %d: %v", corr, err)
	}
}

// Reads pipelined behind a change on one connection see it, as on a Kafka broker, which
// handles a connection's requests one at a time: an OffsetFetch right behind an
// OffsetCommit returns the commit (Sarama pipelines both on its one connection to the
// coordinator), and a Produce right behind the CreateTopics of its topic is taken.
func TestReadsPipelinedBehindChangesSeeThem(t *testing.T) {
	n := startNode(t, "auto.create.topics.enable = false")
	const group, rounds = "read-your-commit", 50
	createTopic(t, n, "committed", 1, nil)

	c, r := dialPipelining(t, n)
	for round := int32(0); round < rounds; round++ {
		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.Version = 7
		commit.Group, commit.Generation = group, -1
		ct := kmsg.NewOffsetCommitRequestTopic()
		ct.Topic = "committed"
		cp := kmsg.NewOffsetCommitRequestTopicPartition()
		cp.Partition, cp.Offset = 0, int64(round+1)
		ct.Partitions = append(ct.Partitions, cp)
		commit.Topics = append(commit.Topics, ct)

		fetch := kmsg.NewPtrOffsetFetchRequest()
		fetch.Version = 5 // the last before flexible headers, which appendRequestFrame does not write
		fetch.Group = group
		ft := kmsg.NewOffsetFetchRequestTopic()
		ft.Topic, ft.Partitions = "committed", []int32{0}
		fetch.Topics = append(fetch.Topics, ft)

		topic := fmt.Sprintf("created-%d", round)
		create := kmsg.NewPtrCreateTopicsRequest()
		create.Version = 4
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
		create.Topics = append(create.Topics, rt)
		create.TimeoutMillis = 30000

		produce := kmsg.NewPtrProduceRequest()
		produce.Version, produce.Acks, produce.TimeoutMillis = 7, -1, 30000
		pt := kmsg.NewProduceRequestTopic()
		pt.Topic = topic
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition, pp.Records = 0, batchtest.Build(batchtest.DefaultOptions(time.Now().UnixMilli()), batchtest.Values(1, 10))
		pt.Partitions = append(pt.Partitions, pp)
		produce.Topics = append(produce.Topics, pt)

		base := round * 4
		var burst []byte
		for i, req := range []kmsg.Request{commit, fetch, create, produce} {
			burst = appendRequestFrame(burst, base+int32(i), req)
		}
		if _, err := c.Write(burst); err != nil {
			t.Fatal(err)
		}
		commitResp, fetchResp := kmsg.NewPtrOffsetCommitResponse(), kmsg.NewPtrOffsetFetchResponse()
		createResp, produceResp := kmsg.NewPtrCreateTopicsResponse(), kmsg.NewPtrProduceResponse()
		commitResp.Version, fetchResp.Version, createResp.Version, produceResp.Version = 7, 5, 4, 7
		readResponseFrame(t, r, base, commitResp)
		readResponseFrame(t, r, base+1, fetchResp)
		readResponseFrame(t, r, base+2, createResp)
		readResponseFrame(t, r, base+3, produceResp)
		if code := commitResp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("round %d: commit error %d", round, code)
		}
		if got := fetchResp.Topics[0].Partitions[0].Offset; got != int64(round+1) {
			t.Fatalf("round %d: OffsetFetch pipelined behind the commit of %d returned %d", round, round+1, got)
		}
		if code := createResp.Topics[0].ErrorCode; code != 0 {
			t.Fatalf("round %d: create error %d", round, code)
		}
		if code := produceResp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("round %d: Produce pipelined behind the CreateTopics of its topic: error %d", round, code)
		}
	}
}

// dialPipelining opens a raw connection to n for a test that writes requests in bursts
// and reads the answers itself; it is closed when the test ends.
func dialPipelining(t *testing.T, n *node) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", n.kafkaAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c, bufio.NewReader(c)
}
