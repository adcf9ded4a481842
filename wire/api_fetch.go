package wire

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
)

// Fetch v4-17 (v4 is the first that carries record batches).
//
// Every partition is read by its actor concurrently, up to its PartitionMaxBytes; the
// response then keeps partitions in request order until MaxBytes is used, always keeping
// the first partition with data even if it alone is larger (KIP-74). When fewer than
// MinBytes came back the request parks on the partitions it read until one of their high
// watermarks moves or MaxWaitMillis passes, then reads once more. Fetch sessions (KIP-227)
// are not kept: the response's session id 0 tells clients to send full fetches.
func (h *Handlers) handleFetch(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.Version >= 7 && !fullFetch(req.SessionEpoch) {
		// Only an incremental fetch needs a session, and we never hand one out.
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}

	img := h.cluster.Image()
	type slot struct {
		tp   actors.TopicPartition
		rp   *kmsg.FetchRequestTopicPartition
		sp   *kmsg.FetchResponseTopicPartition
		data actors.FetchReply
	}
	var slots []*slot
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		st := &resp.Topics[ti]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, known := topicName(img, rt.Topic, rt.TopicID)
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			sp := &st.Partitions[pi]
			*sp = kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			// Empty, never null: librdkafka refuses a null record set ("invalid
			// MessageSetSize -1") where Kafka always sends a length.
			sp.RecordBatches = []byte{}
			if !known {
				sp.ErrorCode = kerr.UnknownTopicID.Code
				continue
			}
			slots = append(slots, &slot{tp: actors.TopicPartition{Topic: name, Partition: rp.Partition}, rp: rp, sp: sp})
		}
	}

	limit := int(req.MaxBytes)
	if req.Version < 3 || limit <= 0 {
		limit = 1 << 30
	}
	read := func() int {
		replies := make(chan actors.FetchReply, len(slots))
		for i, s := range slots {
			h.cluster.Fetch(s.tp, &actors.FetchRequest{
				Offset: s.rp.FetchOffset, MaxBytes: min(int(s.rp.PartitionMaxBytes), limit),
				CurrentLeaderEpoch: currentEpoch(req.Version, s.rp.CurrentLeaderEpoch), Index: i, Reply: replies,
				Alloc: r.Buffer,
			})
		}
		total := 0
		for range slots {
			select {
			case rep := <-replies:
				r.ReleaseBuffer(slots[rep.Index].data.Records) // the first read's, after a long poll
				slots[rep.Index].data = rep
				total += len(rep.Records)
			case <-ctx.Done():
				return total
			}
		}
		return total
	}

	// With no partition to read (every topic unknown) there is nothing to wait for: answer
	// at once, as Kafka does, rather than after MaxWaitMillis.
	if total := read(); total < int(req.MinBytes) && req.MaxWaitMillis > 0 && len(slots) > 0 && !anyFetchError(slots, func(s *slot) int16 { return s.data.Code }) {
		deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
		wake := make(chan struct{}, 1)
		for _, s := range slots {
			h.cluster.Watch(s.tp, &actors.WatchRequest{Offset: s.rp.FetchOffset, Deadline: deadline, Notify: wake})
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
		timer.Stop()
		read()
	}

	used := 0
	for _, s := range slots {
		d := s.data
		s.sp.ErrorCode = d.Code
		s.sp.HighWatermark, s.sp.LastStableOffset, s.sp.LogStartOffset = d.HighWatermark, d.HighWatermark, d.LogStartOffset
		if d.Code != 0 || len(d.Records) == 0 {
			r.ReleaseBuffer(d.Records)
			continue
		}
		if used > 0 && used+len(d.Records) > limit {
			r.ReleaseBuffer(d.Records)
			continue // over the response budget: the client fetches it next time
		}
		s.sp.RecordBatches = d.Records
		r.ReleaseAfterResponse(d.Records)
		used += len(d.Records)
	}
	h.observeFetch(req, resp)
	return resp, nil
}

// currentEpoch is the client's view of the leader epoch, when its version carries one.
func currentEpoch(version int16, epoch int32) int32 {
	if version < 9 {
		return -1
	}
	return epoch
}

func anyFetchError[S any](slots []S, code func(S) int16) bool {
	for _, s := range slots {
		if code(s) != 0 {
			return true
		}
	}
	return false
}

// fetchResponseSizeHint is an upper bound of a Fetch response's encoded size (its body;
// frameSizeHint adds the header). The encoder allocates the frame once at this size: a
// response carries up to MaxBytes of records, and growing the frame by doubling copied
// them again with every growth (half the broker's CPU when consuming small records).
func fetchResponseSizeHint(resp *kmsg.FetchResponse) int {
	n := 64 // throttle, error code, session id, array lengths, tags
	for i := range resp.Topics {
		t := &resp.Topics[i]
		n += 48 + len(t.Topic) // name, topic id, partition count, tags
		for j := range t.Partitions {
			p := &t.Partitions[j]
			// Fixed fields and length prefixes (~50 bytes) plus the tagged fields
			// (diverging epoch, current leader, snapshot id: ~40) fit in 128.
			n += 128 + len(p.RecordBatches) + 32*len(p.AbortedTransactions)
		}
	}
	for _, b := range resp.Brokers {
		n += 32 + len(b.Host)
		if b.Rack != nil {
			n += len(*b.Rack)
		}
	}
	return n
}

// fullFetch tells a full fetch from an incremental one by its session epoch, as Kafka does
// (FetchMetadata.isFull): 0 asks for a new session, -1 for none, and either way the
// request names every partition it wants, whatever session id it carries (Kafka closes
// that session; kafka-go's Client.Fetch sends id -1). Any other epoch continues a session.
func fullFetch(sessionEpoch int32) bool {
	return sessionEpoch == 0 || sessionEpoch == -1
}
