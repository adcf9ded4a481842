package wire

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/wal/batch"
)

// Produce v0-13.
//
// v0-2 carry message sets (magic 0/1), which this broker does not store: they are
// advertised only because older librdkafka disables compression when Produce v0 is
// missing, and their partitions get UNSUPPORTED_FOR_MESSAGE_FORMAT. v3+ record batches go
// to their partition actors, one message per partition, concurrently; the response waits
// for all of them. v13 names topics by id. With acks=0 nothing is answered, and a failure
// closes the connection, as Kafka does, so the producer notices.
//
// Produce is an ordered API (see API.Begin): the messages to partition actors are sent on
// the connection's reader goroutine, so a producer's pipelined requests reach each
// partition in the order it sent them, which idempotent sequence numbers depend on.
func (h *Handlers) beginProduce(ctx context.Context, r *Request) func() (kmsg.Response, error) {
	req := r.Body.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)

	refuseAll := int16(0)
	switch {
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		refuseAll = kerr.InvalidRequiredAcks.Code
	case req.TransactionID != nil:
		refuseAll = kerr.TransactionalIDAuthorizationFailed.Code
	}

	img := h.cluster.Image()
	total := 0
	for _, t := range req.Topics {
		total += len(t.Partitions)
	}
	replies := make(chan actors.ProduceReply, total)
	slots := make([]*kmsg.ProduceResponseTopicPartition, 0, total)
	sent := 0
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, known := topicName(img, rt.Topic, rt.TopicID, req.Version >= 13)
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for pi, rp := range rt.Partitions {
			sp := &st.Partitions[pi]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = rp.Partition, -1, -1, -1
			switch {
			case refuseAll != 0:
				sp.ErrorCode = refuseAll
			case !known:
				sp.ErrorCode = kerr.UnknownTopicID.Code
			case legacyInternalTopic(img, name):
				sp.ErrorCode = kerr.InvalidTopicException.Code
				sp.ErrorMessage = errMessage(sp.ErrorCode, "Cannot append to internal topic "+name)
			case req.Version < 3:
				sp.ErrorCode = kerr.UnsupportedForMessageFormat.Code
				sp.ErrorMessage = errMessage(sp.ErrorCode, "message format v0/v1 is not supported; use Produce v3+ (record batches)")
			case req.Version < 7 && zstdCompressed(rp.Records):
				// As Kafka does: a client old enough to speak only Produce v3-6 cannot be
				// assumed to read zstd back (KIP-110 tied zstd to Produce v7 and Fetch v10).
				sp.ErrorCode = kerr.UnsupportedCompressionType.Code
				sp.ErrorMessage = errMessage(sp.ErrorCode, fmt.Sprintf("produce requests of version %d may not use zstd compression; it needs version 7", req.Version))
			default:
				slots = append(slots, sp)
				h.cluster.Produce(actors.TopicPartition{Topic: name, Partition: rp.Partition},
					&actors.ProduceRequest{Records: rp.Records, Acks: req.Acks, Index: sent, Reply: replies})
				sent++
			}
		}
	}

	return func() (kmsg.Response, error) {
		resp, answered, err := h.finishProduce(ctx, req, resp, replies, slots, sent)
		if answered {
			// Every partition has copied its records into its log (or refused them) and
			// holds no slice of them: the request's frame can carry the next request.
			r.ReleaseFrame()
		}
		return resp, err
	}
}

// finishProduce collects the partitions' replies into the response. answered reports
// whether every partition replied; one that did not may still be reading its records.
func (h *Handlers) finishProduce(ctx context.Context, req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse,
	replies chan actors.ProduceReply, slots []*kmsg.ProduceResponseTopicPartition, sent int) (_ kmsg.Response, answered bool, _ error) {
	timeout := time.Duration(req.TimeoutMillis)*time.Millisecond + 5*time.Second
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for received := 0; received < sent; received++ {
		select {
		case rep := <-replies:
			sp := slots[rep.Index]
			sp.ErrorCode, sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = rep.Code, rep.BaseOffset, rep.LogAppendTime, rep.LogStartOffset
			if rep.Code != 0 && req.Version >= 8 {
				sp.ErrorMessage = errMessage(rep.Code, rep.Message)
				sp.ErrorRecords = recordErrors(rep.RecordErrors)
			}
		case <-timer.C:
			// A partition actor that crashed mid-request never answers; its partitions
			// time out rather than hang the connection.
			for _, sp := range slots {
				if sp.ErrorCode == 0 && sp.BaseOffset == -1 {
					sp.ErrorCode = kerr.RequestTimedOut.Code
				}
			}
			return h.produceResult(req, resp, false)
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	return h.produceResult(req, resp, true)
}

// produceResult is what a Produce handler returns: with acks=0 no response, and a failure
// closes the connection.
func (h *Handlers) produceResult(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, answered bool) (kmsg.Response, bool, error) {
	h.observeProduce(req, resp)
	if req.Acks == 0 {
		// Any partition's error counts, whether its actor or this handler refused it.
		if errs := produceErrors(resp); errs != "" {
			return nil, answered, fmt.Errorf("%w: %s", errAcksZeroFailed, errs)
		}
		return nil, answered, nil
	}
	return resp, answered, nil
}

// zstdCompressed reports whether records starts with a record batch compressed with zstd.
// A malformed header is left for the partition's validation to name.
func zstdCompressed(records []byte) bool {
	h, err := batch.ParseHeader(records)
	return err == nil && h.Magic == 2 && h.Compression() == batch.CodecZstd
}

// errAcksZeroFailed closes the connection after a failed acks=0 produce, Kafka's way of
// telling a producer that expects no answer. The fault is the producer's (or its
// partition's), not the broker's, so it is logged at info, as Kafka does.
var errAcksZeroFailed = errors.New("acks=0 produce failed; closing the connection so the producer notices")

// produceErrors lists the partitions of resp that failed, with their errors.
func produceErrors(resp *kmsg.ProduceResponse) string {
	var b strings.Builder
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s-%d: %s", t.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
	return b.String()
}

// recordErrors is a refusal's failed records as ProduceResponse v8+ names them.
func recordErrors(failed []actors.RecordError) []kmsg.ProduceResponseTopicPartitionErrorRecord {
	if len(failed) == 0 {
		return nil
	}
	out := make([]kmsg.ProduceResponseTopicPartitionErrorRecord, len(failed))
	for i, f := range failed {
		out[i] = kmsg.NewProduceResponseTopicPartitionErrorRecord()
		out[i].RelativeOffset, out[i].ErrorMessage = f.Index, kmsg.StringPtr(f.Message)
	}
	return out
}
