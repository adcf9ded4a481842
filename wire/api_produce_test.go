package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/wal/batch"
	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// zstd came with Produce v7 (KIP-110): as in Kafka, an older request carrying a zstd batch
// gets UNSUPPORTED_COMPRESSION_TYPE, since its client cannot be assumed to read zstd
// back, while v7 takes it, and other codecs are taken at any version.
func TestZstdNeedsProduceV7(t *testing.T) {
	produce := func(version int16, codec int8) int16 {
		t.Helper()
		opts := batchtest.DefaultOptions(1700000000000)
		opts.Codec = codec
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = version, -1, 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = fuzzTopic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batchtest.Build(opts, batchtest.Values(3, 10))
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := runDataHandler(t, req)
		if err != nil {
			t.Fatalf("Produce v%d: %v", version, err)
		}
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(6, batch.CodecZstd); code != kerr.UnsupportedCompressionType.Code {
		t.Errorf("Produce v6 with zstd: error %d, want UNSUPPORTED_COMPRESSION_TYPE", code)
	}
	if code := produce(7, batch.CodecZstd); code != 0 {
		t.Errorf("Produce v7 with zstd: error %d", code)
	}
	if code := produce(6, batch.CodecLZ4); code != 0 {
		t.Errorf("Produce v6 with lz4: error %d", code)
	}
}

// A failed acks=0 produce gets no answer: the connection closes, and the error the server
// logs (at info: the producer's fault) names each partition that failed and why.
func TestFailedAcksZeroProduceNamesItsPartitions(t *testing.T) {
	opts := batchtest.DefaultOptions(1700000000000)
	opts.Codec = batch.CodecZstd
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 6, 0, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = fuzzTopic
	for p := range int32(2) {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, batchtest.Build(opts, batchtest.Values(3, 10))
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := runDataHandler(t, req)
	if resp != nil || !errors.Is(err, errAcksZeroFailed) {
		t.Fatalf("acks=0 produce refused everywhere: response %v, error %v; want no response and errAcksZeroFailed", resp, err)
	}
	for _, want := range []string{fuzzTopic + "-0: UNSUPPORTED_COMPRESSION_TYPE", fuzzTopic + "-1: UNSUPPORTED_COMPRESSION_TYPE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
