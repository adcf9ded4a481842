package wire

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/metastore/configs"
	"github.com/chronik/chronik-node/wal/batch"
)

// defaultPartitionReadTimeout bounds how long a Fetch waits for a partition actor's read,
// which never waits for data itself (parking is separate): only a lost message takes
// this long.
const defaultPartitionReadTimeout = 15 * time.Second

// maxFetchBytes caps the records of one Fetch response whatever MaxBytes the client asks
// for, as Kafka's fetch.max.bytes (55 MiB by default) does. Each partition's records are
// read into memory and held until the response is written, so without it one request
// asking for 1 GiB read a whole 1 GiB segment, and a client pipelining such requests
// without reading the answers held that much per request.
const maxFetchBytes = 55 << 20

// Fetch v4-17 (v4 is the first that carries record batches).
//
// Partitions are read by their actors in waves, in request order, each up to its
// PartitionMaxBytes while that fits in what is left of MaxBytes (see read below); what a
// wave may read is first reserved from the server's fetch budget (Request.Reserve). The
// response keeps partitions in request order until MaxBytes is used, always keeping the
// first partition with data even if it alone is larger (KIP-74). When fewer than
// MinBytes (at most MaxBytes, as in Kafka) came back, a partition holding more than its
// read limit counting as that limit, the request parks on the partitions it read and
// reads them again whenever one of their high watermarks moves, until MinBytes have
// accumulated (as Kafka promises for fetch.min.bytes), MaxWaitMillis passes or the server
// starts shutting down. From v7 a fetch may open or continue an incremental fetch session
// (KIP-227, fetch_session.go): the partitions read are then the session's, and the
// response carries only those with news.
func (h *Handlers) handleFetch(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.FetchRequest)
	if req.Version < 7 {
		return h.fetch(ctx, r, req)
	}
	now := time.Now()
	sf := h.sessions.begin(req, now)
	if sf.code != 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = sf.code
		return resp, nil
	}
	read := req
	if sf.session != nil {
		whole := *req
		whole.Topics = sf.topics
		read = &whole
	}
	resp, err := h.fetch(ctx, r, read)
	switch {
	case err != nil:
		return nil, err
	case sf.session != nil:
		if !h.sessions.finish(sf, resp) {
			// Another fetch on the session came in meanwhile; the records read stay with
			// the request and are released once this answer is written.
			resp = req.ResponseKind().(*kmsg.FetchResponse)
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
		}
		resp.SessionID = sf.session.id
	case sf.create:
		resp.SessionID = h.sessions.open(req, resp, now)
	}
	return resp, nil
}

// fetch reads the partitions req names and builds the full response to it.
func (h *Handlers) fetch(ctx context.Context, r *Request, req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	// MaxWaitMillis counts from the request's arrival, whatever the first read took.
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)

	img := h.cluster.Image()
	type slot struct {
		tp   actors.TopicPartition
		rp   *kmsg.FetchRequestTopicPartition
		sp   *kmsg.FetchResponseTopicPartition
		data actors.FetchReply

		readLimit int // this read's MaxBytes; 0 reads the offsets only
	}
	var slots []*slot
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		st := &resp.Topics[ti]
		*st = kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, known := topicName(img, rt.Topic, rt.TopicID, req.Version >= 13)
		zstdOnly := known && req.Version < 10 && h.zstdTopic(img, name)
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
			if zstdOnly && rp.Partition >= 0 && int(rp.Partition) < len(img.Topics[name].Partitions) {
				// As Kafka answers (KafkaApis' maybeConvertFetchedData): clients learned
				// zstd with Fetch v10 (KIP-110), and every batch of a topic whose
				// compression.type is zstd is zstd. Other topics' zstd batches, a
				// producer's choice, go out as stored, as Kafka sends them.
				sp.ErrorCode = kerr.UnsupportedCompressionType.Code
				continue
			}
			slots = append(slots, &slot{tp: actors.TopicPartition{Topic: name, Partition: rp.Partition}, rp: rp, sp: sp})
		}
	}

	limit := min(max(int(req.MaxBytes), 0), maxFetchBytes)
	// No response carries more than limit, so waiting for more than that would only ever
	// end at MaxWaitMillis: Kafka caps MinBytes at MaxBytes (KafkaApis' fetchMinBytes).
	minBytes := min(int(req.MinBytes), limit)
	// A limit of 0 still reads the first batch of the first partition with records, as in
	// Kafka (KIP-74: a consumer always makes progress); a read limit of 1 does just that.
	// It used to mean "no limit" here, and a client asking for nothing got 55 MiB.
	limit = max(limit, 1)
	// The records read count against the server's fetch budget until the response is
	// written. A read waits for room at most until the fetch's MaxWaitMillis; past that
	// it reads offsets only, and the client asks again. Once it has records it waits for
	// no more room: it answers with those.
	roomCtx, cancelRoom := context.WithDeadline(ctx, deadline)
	defer cancelRoom()
	noWait, cancelNoWait := context.WithCancel(ctx)
	cancelNoWait()
	// drop hands back records the response will not carry, and the budget they held.
	drop := func(records []byte) {
		r.Unreserve(len(records))
		r.ReleaseBuffer(records)
	}
	// readWave reads the first slots of wave concurrently, each up to its readLimit
	// (allotted in all), as many as the budget has room for. It returns the bytes read
	// and how many slots it read (the rest go to the next wave); ok is false when the
	// connection closed (nothing more is worth reading), short is true when the budget
	// had no room at all, and the slots were asked for their offsets only.
	readWave := func(wave []*slot, allotted int, wait bool) (n, done int, ok, short bool) {
		// A read after a long poll replaces what the partitions read before: that goes
		// back first, so it counts toward this read's room, not against it.
		for _, s := range wave {
			drop(s.data.Records)
			s.data.Records = nil
		}
		granted := 0
		if allotted > 0 {
			room := roomCtx
			if !wait {
				room = noWait
			}
			var err error
			if granted, err = r.Reserve(room, allotted); err != nil && ctx.Err() != nil {
				return 0, len(wave), false, false
			}
		}
		switch {
		case granted == 0 && allotted > 0:
			short = true
			for _, s := range wave {
				s.readLimit = 0
			}
		case granted < allotted:
			// Less room than asked (the budget, or this connection's share of it, is
			// mostly held): the wave is cut to the partitions it has room for, and the
			// next one asks again for the rest. A consumer's Fetch that waited for all it
			// asked for got nothing for as long as a hung one held the budget.
			left, cut := granted, 0
			for cut < len(wave) && left > 0 {
				s := wave[cut]
				s.readLimit = min(s.readLimit, left)
				left -= s.readLimit
				cut++
			}
			wave = wave[:cut]
		}
		allotted = granted
		replies := make(chan actors.FetchReply, len(wave))
		for i, s := range wave {
			h.cluster.Fetch(s.tp, &actors.FetchRequest{
				Offset: s.rp.FetchOffset, MaxBytes: s.readLimit,
				CurrentLeaderEpoch: currentEpoch(req.Version, s.rp.CurrentLeaderEpoch), Index: i, Reply: replies,
				Alloc: r.Buffer,
			})
		}
		// A partition actor that panics on this read, or stops with it still queued, never
		// answers. Its partitions get NOT_LEADER_OR_FOLLOWER (the client looks the leader
		// up again and retries) rather than holding up the connection's later responses.
		timer := time.NewTimer(h.partitionReadTimeout)
		defer timer.Stop()
		answered := make([]bool, len(wave))
		total := 0
		// What the wave read beyond or short of what it reserved is charged or given back
		// once it is over.
		defer func() {
			if total > allotted {
				r.ReserveRead(total - allotted)
			} else {
				r.Unreserve(allotted - total)
			}
		}()
		for range wave {
			select {
			case rep := <-replies:
				s := wave[rep.Index]
				s.data = rep
				answered[rep.Index] = true
				total += len(rep.Records)
			case <-timer.C:
				for i, s := range wave {
					if !answered[i] {
						s.data = actors.FetchReply{Index: i, Code: kerr.NotLeaderForPartition.Code, HighWatermark: -1, LogStartOffset: -1}
					}
				}
				return total, len(wave), true, short
			case <-ctx.Done():
				return total, len(wave), false, short
			}
		}
		return total, len(wave), true, short
	}

	// read reads every partition and returns the bytes of records read. The reads go out
	// in waves, in request order: a wave takes partitions while their read limits fit in
	// what is left of the response budget, and once nothing is left the rest are asked
	// for their offsets only. Kafka reads partitions one after another against the budget
	// in the same way; reading all of them at once, each up to PartitionMaxBytes, read
	// 500 MiB for a 50 MiB response to a consumer of 500 backlogged partitions.
	read := func() int {
		total, short := 0, false
		for start := 0; start < len(slots); {
			left := limit - total
			if short {
				left = 0 // the budget has no more room: the rest are asked for offsets
			}
			end, allotted := start, 0
			for end < len(slots) && (left <= 0 || allotted < left) {
				s := slots[end]
				s.readLimit = 0
				if left > 0 {
					s.readLimit = max(1, min(int(s.rp.PartitionMaxBytes), left-allotted))
					allotted += s.readLimit
				}
				end++
			}
			n, done, ok, noRoom := readWave(slots[start:end], allotted, total == 0)
			total += n
			short = short || noRoom
			if !ok {
				break
			}
			start += done
		}
		return total
	}
	failed := func() bool { return anyFetchError(slots, func(s *slot) int16 { return s.data.Code }) }
	// readable is what the last reads count toward MinBytes: what Kafka's reads of the
	// same partitions would have returned. Kafka's read stops at the read limit even inside
	// a batch (clients set the cut batch aside and fetch it again), except for the first
	// partition with records, whose first batch comes whole (KIP-74). Reads here stop at
	// the last whole batch, so a partition read short of its limit that holds more counts
	// as its limit; finding that out walks the batch headers, so only when the whole
	// batches fall short. Counting only the whole batches left a fetch whose MinBytes is
	// near MaxBytes parked, until MaxWaitMillis, on a backlog Kafka counts as enough.
	readable := func() int {
		n, first := 0, true
		for _, s := range slots {
			if got := len(s.data.Records); got > 0 {
				n += kafkaReadBytes(got, s.readLimit, first)
				first = false
			}
		}
		for _, s := range slots {
			if n >= minBytes {
				break
			}
			if holdsMoreThanRead(s.data.Records, s.readLimit, s.data.HighWatermark) {
				n += s.readLimit - len(s.data.Records)
			}
		}
		return n
	}
	// With no partition to read (every topic unknown) there is nothing to wait for: answer
	// at once, as Kafka does, rather than after MaxWaitMillis.
	if read(); readable() < minBytes && req.MaxWaitMillis > 0 && len(slots) > 0 && !failed() {
		wake := make(chan struct{}, 1)
		// watched[i] is the offset slot i's parked watch waits for the high watermark to
		// pass; the partition forgets the watch once it wakes it.
		watched := make([]int64, len(slots))
		for i, s := range slots {
			watched[i] = s.rp.FetchOffset
			h.cluster.Watch(s.tp, &actors.WatchRequest{Offset: watched[i], Deadline: deadline, Notify: wake, Abandoned: ctx.Done()})
		}
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		for waiting := true; waiting; {
			select {
			case <-wake:
			case <-timer.C:
				waiting = false
			case <-r.Draining():
				waiting = false // the broker is stopping: answer with what there is
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if read(); readable() >= minBytes || failed() {
				break
			}
			// Still short of MinBytes: park again on the partitions that woke, past what
			// they hold now, and wait for more (Kafka answers short only at the deadline).
			for i, s := range slots {
				if hw := s.data.HighWatermark; waiting && hw > watched[i] {
					watched[i] = hw
					h.cluster.Watch(s.tp, &actors.WatchRequest{Offset: hw, Deadline: deadline, Notify: wake, Abandoned: ctx.Done()})
				}
			}
		}
	}

	used := 0
	for _, s := range slots {
		d := s.data
		s.sp.ErrorCode = d.Code
		if d.Code == kerr.KafkaStorageError.Code && req.Version <= 5 {
			// As Kafka does: Fetch v5 and older predate KAFKA_STORAGE_ERROR, which their
			// clients may take for a fatal unknown error; NOT_LEADER_OR_FOLLOWER makes them
			// refresh metadata and retry.
			s.sp.ErrorCode = kerr.NotLeaderForPartition.Code
		}
		s.sp.HighWatermark, s.sp.LastStableOffset, s.sp.LogStartOffset = d.HighWatermark, d.HighWatermark, d.LogStartOffset
		if d.Code != 0 || len(d.Records) == 0 {
			drop(d.Records)
			continue
		}
		records := d.Records
		if used > 0 && used+len(records) > limit {
			drop(records)
			continue // over the response budget: the client fetches it next time
		}
		s.sp.RecordBatches = records
		r.ReleaseAfterResponse(records)
		used += len(records)
	}
	h.observeFetch(req, resp)
	return resp, nil
}

// fetchErrorResponse is the generic error response with an empty record set, never a
// null one, in every partition, as in the handler's own answers: clients read the record
// set's length before the error code means anything to them, and a null one (-1) is a
// decoding failure to Sarama ("invalid byteslice length") and librdkafka alike, which
// hid UNSUPPORTED_VERSION from a Sarama configured for Kafka 0.10 (Fetch v3).
func fetchErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := ErrorResponse(req, code)
	if fr, ok := resp.(*kmsg.FetchResponse); ok {
		for ti := range fr.Topics {
			for pi := range fr.Topics[ti].Partitions {
				fr.Topics[ti].Partitions[pi].RecordBatches = []byte{}
			}
		}
	}
	return resp
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

// zstdTopic reports whether a topic's effective compression.type is zstd.
func (h *Handlers) zstdTopic(img *metastore.Image, name string) bool {
	t := img.Topics[name]
	return t != nil && configs.Effective(configs.CompressionType, t.Configs, h.brokerConfigs(img)) == "zstd"
}

// kafkaReadBytes is how much of a partition read of got bytes (whole batches, the first
// one even if larger than readLimit) Kafka's read would have returned: all of it for the
// first partition with records, at most readLimit for the others.
func kafkaReadBytes(got, readLimit int, first bool) int {
	if first {
		return got
	}
	return min(got, readLimit)
}

// holdsMoreThanRead reports whether a partition read short of its limit stopped at a batch
// that did not fit, rather than at the high watermark: Kafka's read would have filled the
// limit with part of that batch. (A read that stopped at the end of a segment counts too,
// where Kafka's would not: such a fetch answers sooner, with records.)
func holdsMoreThanRead(records []byte, readLimit int, highWatermark int64) bool {
	return len(records) > 0 && len(records) < readLimit && recordsEnd(records) < highWatermark
}

// recordsEnd is the offset after the last whole batch of a fetch's records, or -1 when
// they hold none. It reads the batch headers only.
func recordsEnd(records []byte) int64 {
	end := int64(-1)
	for len(records) >= batch.HeaderSize {
		h, err := batch.ParseHeader(records)
		if err != nil || h.Size() <= 0 || h.Size() > len(records) {
			break
		}
		end = h.LastOffset() + 1
		records = records[h.Size():]
	}
	return end
}
