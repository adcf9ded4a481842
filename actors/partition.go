package actors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/actors/producers"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/wal"
	"github.com/chronik/chronik-node/wal/batch"
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// partitionActor owns one partition replica: its WAL, its idempotent-producer state, its
// high watermark, the acknowledgements waiting for an fsync and the fetches parked until
// data arrives. A restart reopens all of it from disk.
type partitionActor struct {
	n   *Node
	tp  TopicPartition
	log zerolog.Logger

	topicID     metastore.UUID
	dir         string
	wal         *wal.Log
	cfg         partitionConfig
	producers   *producers.State
	hw          int64
	leaderEpoch int32
	leader      bool
	broken      error     // the log could not be opened; requests get KAFKA_STORAGE_ERROR
	lastOpenLog time.Time // when an open failure was last logged
	lastOpen    time.Time // when the log was last opened, or tried
	self        *actor.PID

	sync        *syncer
	pendingAcks []pendingAck // waiting for an fsync (log.flush.policy = always)
	isrSize     int          // in-sync replicas in the metadata; acks=all needs min.insync.replicas
	// writesFenced is the fsync failure that stopped this partition taking writes until
	// the broker restarts; the node's writeFences keep it across restarts of this actor.
	writesFenced error
	// syncRetry: the last fsync failed without the data's flush failing (see synced); the
	// next tick tries again, whatever the flush policy.
	syncRetry bool

	appendFailureLogged    time.Time // see logAppendFailure
	appendFailuresUnlogged int

	unsynced  bool // appended since the last fsync
	watchers  []*WatchRequest
	lastSnap  time.Time
	snapDirty bool
	status    *partitionStatus
	sizeBytes int64 // bytes of the log on disk, as last published

	cleaning       *cleanRun // a clean of the log in progress (compacted topics)
	lastCleanCheck time.Time
}

// pendingAck is a produce reply held until the log is durable up to end.
type pendingAck struct {
	end   int64 // the log end offset after this request's batches
	reply ProduceReply
	to    chan<- ProduceReply
}

// Messages from the node to partition actors.
type (
	syncDone struct {
		upTo int64
		err  error
	}
	partitionTick struct { // the interval fsync, producer expiry, and retention when due
		now       time.Time
		retention bool
	}
	partitionRefresh struct{ img *metastore.Image }
)

func newPartitionActor(n *Node, tp TopicPartition) actor.Producer {
	return func() actor.Actor {
		return &partitionActor{n: n, tp: tp, log: n.log.With().Str("actor", "partition").Str("partition", tp.String()).Logger()}
	}
}

func (a *partitionActor) Receive(ctx actor.Context) {
	if a.broken != nil && a.reopenDue(time.Now()) {
		a.open() // serve again as soon as the cause (a full disk, say) is gone
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		a.open()
	case *actor.Stopping, *actor.Restarting:
		a.close()
	case *ProduceRequest:
		a.produce(m)
	case *FetchRequest:
		m.Reply <- a.fetch(m)
	case *WatchRequest:
		a.watch(m)
	case *ListOffsetsRequest:
		m.Reply <- a.listOffsets(m)
	case *DeleteRecordsRequest:
		m.Reply <- a.deleteRecords(m)
	case *EpochEndRequest:
		m.Reply <- a.epochEnd(m)
	case *DescribeProducersRequest:
		m.Reply <- a.describeProducers(m)
	case *syncDone:
		a.synced(m)
	case *partitionTick:
		a.tick(m)
	case *cleanDone:
		a.cleanFinished(m)
	case *partitionRefresh:
		a.refresh(m.img)
	}
}

// damagedReopenInterval spaces the attempts to open a log found damaged on disk. Each
// attempt rescans the damaged segment (up to segment.bytes) and logs its findings; at
// every fetch, produce and tick that made a broken partition read its segment over and
// over and flooded the log, for a condition only an operator can cure.
const damagedReopenInterval = 10 * time.Second

// reopenDue reports whether a broken partition should try to open its log again now: at
// once (every message) when the cause may pass by itself, such as a full disk, but only
// every damagedReopenInterval when the log is damaged.
func (a *partitionActor) reopenDue(now time.Time) bool {
	return !errors.Is(a.broken, wal.ErrDamaged) || now.Sub(a.lastOpen) >= damagedReopenInterval
}

// open (re)builds the partition from disk: the WAL with its recovery, the producer state
// from its snapshot plus the batches after it, and the high watermark.
func (a *partitionActor) open() {
	img := a.n.Image()
	t := img.Topics[a.tp.Topic]
	if t == nil || int(a.tp.Partition) >= len(t.Partitions) {
		a.broken = fmt.Errorf("partition %s is not in the metadata", a.tp)
		return
	}
	a.topicID = t.ID
	a.writesFenced = a.n.fences.get(a.tp) // set before a restart of this actor
	a.cfg = resolvePartitionConfig(a.n, img, t)
	a.setLeadership(t.Partitions[a.tp.Partition])
	a.dir = filepath.Join(a.n.opts.Data.Dir, a.tp.String())
	a.lastOpen = time.Now()
	logFailure := time.Since(a.lastOpenLog) >= 10*time.Second
	if logFailure {
		a.lastOpenLog = time.Now()
	}
	if err := preparePartitionDir(a.dir, t.ID, &a.n.trash, a.log); err != nil {
		a.broken = err
		if logFailure {
			a.n.storageLogs.event(&a.log, zerolog.ErrorLevel, a.lastOpen).Err(err).Msg("prepare partition directory; the partition answers KAFKA_STORAGE_ERROR until it opens")
		}
		return
	}
	l, err := wal.Open(a.dir, a.cfg.wal, a.log, wal.WithFileCache(a.n.segmentFiles), wal.WithIndexCache(a.n.segmentIndexes))
	if err != nil {
		a.broken = err
		if logFailure {
			a.n.storageLogs.event(&a.log, zerolog.ErrorLevel, a.lastOpen).Err(err).Msg("open partition log; the partition answers KAFKA_STORAGE_ERROR until it opens")
		}
		return
	}
	a.wal = l
	a.broken = nil
	a.hw = l.EndOffset()
	a.producers = loadProducerState(a.dir, l, a.log)
	a.lastSnap = time.Now()
	a.sync = startSyncer(l, a.n.root, a.self, a.dir, a.log, &a.n.storageLogs)
	if l.UnsyncedSealed() > 0 {
		// Segments recovery rescanned get their index files, and the recovery point
		// moves past them, now rather than after the next produce.
		a.sync.request()
	}
	a.status = a.n.statuses.open(a.tp)
	a.sizeBytes = l.Size()
	a.publish()
}

// publish makes the partition's offsets visible to other goroutines. It runs on the
// produce path, so it only stores what the actor has at hand: the size on disk is kept
// up to date by appends and re-read (a sum over segments) only when segments go.
func (a *partitionActor) publish() {
	if a.status == nil || a.wal == nil {
		return
	}
	a.status.logStart.Store(a.wal.StartOffset())
	a.status.highWatermark.Store(a.hw)
	a.status.logEnd.Store(a.wal.EndOffset())
	a.status.sizeBytes.Store(a.sizeBytes)
	a.status.leaderEpoch.Store(a.leaderEpoch)
	a.status.leader.Store(a.leader)
	a.status.parked.Store(int64(len(a.watchers)))
}

func (a *partitionActor) close() {
	// Parked fetches read again at once: the partition may be going away (its topic
	// deleted), which they should learn now, as in Kafka, not at their deadline.
	for _, w := range a.watchers {
		notify(w.Notify)
	}
	a.watchers = nil
	if a.status != nil {
		a.n.statuses.remove(a.tp)
		a.status = nil
	}
	a.stopCleaning()
	if a.sync != nil {
		a.sync.stop()
		a.sync = nil
	}
	if a.wal == nil {
		return
	}
	a.saveProducerSnapshot()
	if err := a.wal.Sync(); err != nil {
		a.log.Warn().Err(err).Msg("sync partition log at close")
	}
	if err := a.wal.Close(); err != nil {
		a.log.Warn().Err(err).Msg("close partition log")
	}
	a.wal = nil
	// Anyone still waiting gets an answer instead of a timeout.
	for _, p := range a.pendingAcks {
		p.reply.Code = kerr.NotLeaderForPartition.Code
		p.to <- p.reply
	}
	a.pendingAcks = nil
}

func (a *partitionActor) setLeadership(p metastore.Partition) {
	a.leader = p.Leader == int32(a.n.opts.NodeID)
	a.leaderEpoch = p.LeaderEpoch
	a.isrSize = len(p.ISR)
}

// checkServing returns the error a request gets when this replica cannot serve it.
func (a *partitionActor) checkServing(currentEpoch int32) int16 {
	switch {
	case a.broken != nil || a.wal == nil:
		return kerr.KafkaStorageError.Code
	case !a.leader:
		return kerr.NotLeaderForPartition.Code
	case currentEpoch >= 0 && currentEpoch > a.leaderEpoch:
		return kerr.UnknownLeaderEpoch.Code
	case currentEpoch >= 0 && currentEpoch < a.leaderEpoch:
		return kerr.FencedLeaderEpoch.Code
	}
	return 0
}

func (a *partitionActor) produce(m *ProduceRequest) {
	reply := ProduceReply{Index: m.Index, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	fail := func(code int16, msg string) {
		reply.Code, reply.Message = code, msg
		m.Reply <- reply
	}
	failRecords := func(code int16, msg string, records []RecordError) {
		reply.RecordErrors = records
		fail(code, msg)
	}
	if code := a.checkServing(-1); code != 0 {
		fail(code, "")
		return
	}
	if a.writesFenced != nil {
		fail(kerr.KafkaStorageError.Code, fmt.Sprintf("an fsync of this partition's log failed (%v); it takes no writes until the broker restarts", a.writesFenced))
		return
	}
	if m.Acks == -1 && a.isrSize < a.cfg.minInsyncReplicas {
		// As in Kafka, acks=all is refused before anything is written when fewer replicas
		// are in sync than min.insync.replicas asks for; acks=0 and 1 are not affected.
		fail(kerr.NotEnoughReplicas.Code, fmt.Sprintf("the in-sync replica set of %s has %d members, fewer than min.insync.replicas = %d", a.tp, a.isrSize, a.cfg.minInsyncReplicas))
		return
	}
	now := time.Now()
	v, code, msg, records := a.validate(m.Records, now.UnixMilli())
	defer a.releaseRecords(v)
	if code != 0 {
		failRecords(code, msg, records)
		return
	}
	if a.cfg.compacted {
		if code, msg, records := a.refuseKeyless(v); code != 0 {
			failRecords(code, msg, records)
			return
		}
	}
	b, h := v.b, v.h
	pb := producerBatch(h)
	dup, isDup, err := a.producers.Check(pb)
	if err != nil {
		fail(producers.Code(err), err.Error())
		return
	}
	if isDup {
		// A retry of a batch already in the log: answer with where it went and, on a
		// LogAppendTime topic, the time it was stamped with, as Kafka does.
		reply.BaseOffset = dup.BaseOffset
		if a.cfg.logAppendTime {
			reply.LogAppendTime = dup.MaxTimestamp
		}
	} else {
		if b, code, msg = a.recompress(v); code != 0 {
			fail(code, msg)
			return
		}
		if a.cfg.logAppendTime {
			batch.SetLogAppendTime(b, now.UnixMilli())
			reply.LogAppendTime = now.UnixMilli()
			pb.MaxTimestamp = now.UnixMilli()
		} else {
			pb.MaxTimestamp = stampCreateTime(b, v.times)
		}
		base, err := a.wal.Append(b, a.leaderEpoch, now)
		if err != nil {
			a.logAppendFailure(err, now)
			code := kerr.KafkaStorageError.Code
			if errors.Is(err, wal.ErrStaleEpoch) {
				code = kerr.FencedLeaderEpoch.Code
			}
			fail(code, err.Error())
			return
		}
		reply.BaseOffset = base
		pb.BaseOffset, pb.LastOffset = base, base+int64(h.LastOffsetDelta)
		a.producers.Apply(pb, now.UnixMilli())
		a.snapDirty = a.snapDirty || pb.ProducerID >= 0
		a.unsynced = true
		a.sizeBytes += int64(len(b))
		if !a.n.opts.Data.FlushAlways {
			a.sync.appended(len(b))
		}
	}
	reply.LogStartOffset = a.wal.StartOffset()
	end := a.wal.EndOffset()
	if a.n.opts.Data.FlushAlways {
		// Acknowledge, and expose to consumers, only once the batch is on disk. Appends
		// that arrive while an fsync runs share the next one (group commit).
		a.pendingAcks = append(a.pendingAcks, pendingAck{end: end, reply: reply, to: m.Reply})
		a.sync.request()
		return
	}
	a.advanceHW(end)
	a.publish()
	m.Reply <- reply
}

// logAppendFailure logs a failed append at most once a second per partition, with how
// many it left out: a full disk fails every produce, and a line for each flooded the log
// (9,000 lines a minute from one kcat filling a 64 MB file system), itself often on the
// disk that is full.
func (a *partitionActor) logAppendFailure(err error, now time.Time) {
	if now.Sub(a.appendFailureLogged) < time.Second {
		a.appendFailuresUnlogged++
		return
	}
	a.n.storageLogs.event(&a.log, zerolog.ErrorLevel, now).Err(err).Int("failures_not_logged", a.appendFailuresUnlogged).Msg("append to partition log")
	a.appendFailureLogged, a.appendFailuresUnlogged = now, 0
}

// validate splits and checks a partition's records: exactly one batch (as Kafka requires of
// Produce v3+: with several, a failure part-way would leave the earlier ones written behind
// an error the producer retries), structure and CRC, size limit, the records themselves
// (decompressed, for a compressed batch), timestamps within the topic's bounds, no
// transactional or control batches (transactions are not supported). The caller releases
// the result's records. A batch refused for its records' timestamps comes with the
// records that failed.
func (a *partitionActor) validate(records []byte, nowMs int64) (producedBatch, int16, string, []RecordError) {
	refuse := func(code int16, msg string) (producedBatch, int16, string, []RecordError) {
		return producedBatch{}, code, msg, nil
	}
	batches, err := batch.Split(records)
	switch {
	case err != nil:
		return refuse(kerr.CorruptMessage.Code, err.Error())
	case len(batches) == 0:
		return refuse(kerr.InvalidRecord.Code, "no record batches")
	case len(batches) > 1:
		return refuse(kerr.InvalidRecord.Code,
			fmt.Sprintf("produce requests of version 3 and later may carry exactly one record batch per partition, not %d", len(batches)))
	}
	b := batches[0]
	if len(b) > a.cfg.maxMessageBytes {
		return refuse(kerr.MessageTooLarge.Code, fmt.Sprintf("batch of %d bytes exceeds max.message.bytes %d", len(b), a.cfg.maxMessageBytes))
	}
	h, times, err := batch.ValidateProduced(b)
	switch {
	case errors.Is(err, batch.ErrUnsupportedMagic):
		// Kafka refuses anything but magic 2 in a Produce v3+ request as an invalid
		// record (ProduceRequest.validateRecords).
		return refuse(kerr.InvalidRecord.Code, "produce requests of version 3 and later may only carry record batches with magic 2: "+err.Error())
	case errors.Is(err, batch.ErrInvalidRecord):
		return refuse(kerr.InvalidRecord.Code, err.Error())
	case err != nil:
		return refuse(kerr.CorruptMessage.Code, err.Error())
	case h.Control():
		return refuse(kerr.InvalidRecord.Code, "clients may not write control batches")
	case h.Transactional():
		return refuse(kerr.TransactionalIDAuthorizationFailed.Code, "transactions are not supported by this broker")
	}
	v := producedBatch{b: b, h: h, times: times}
	if h.Compression() != batch.CodecNone {
		if code, msg := a.checkCompressed(&v); code != 0 {
			return refuse(code, msg)
		}
	}
	if msg := a.timestampOutOfRange(v.times, nowMs); msg != "" {
		failed := a.recordsOutOfRange(v, nowMs)
		a.releaseRecords(v)
		return producedBatch{}, kerr.InvalidTimestamp.Code, msg, failed
	}
	return v, 0, "", nil
}

func producerBatch(h batch.Header) producers.Batch {
	return producers.Batch{
		ProducerID: h.ProducerID, Epoch: h.ProducerEpoch,
		FirstSeq: h.BaseSequence, LastSeq: producers.LastSequence(h.BaseSequence, h.NumRecords),
		MaxTimestamp: h.MaxTimestamp,
	}
}

// synced releases the acknowledgements an fsync covered. A failed flush of the data
// itself (wal.ErrFlushFailed) fences the partition: the kernel may have dropped the pages
// it could not write, and no later fsync brings them back. Any other failure (a directory
// or index file that could not be opened, say with the file table full) leaves the data
// as it was: the acknowledgements it covered get KAFKA_STORAGE_ERROR, which producers
// retry, and the next fsync tries again.
func (a *partitionActor) synced(m *syncDone) {
	if m.err != nil && errors.Is(m.err, wal.ErrFlushFailed) {
		a.n.storageLogs.event(&a.log, zerolog.ErrorLevel, time.Now()).Err(m.err).Msg("fsync partition log failed; the partition takes no writes until the broker restarts")
		a.n.fences.fence(a.tp, m.err)
		a.writesFenced = a.n.fences.get(a.tp)
	} else if m.err != nil {
		a.syncRetry = true
		a.n.storageLogs.event(&a.log, zerolog.ErrorLevel, time.Now()).Err(m.err).Msg("fsync partition log failed; retrying at the next tick")
	} else {
		a.syncRetry = false
	}
	fenced := a.writesFenced
	kept := a.pendingAcks[:0]
	for _, p := range a.pendingAcks {
		switch {
		case fenced != nil:
			// Appends after the failed range too: a later fsync succeeding would not make
			// the failed range durable, and these records would sit behind it.
			p.reply.Code, p.reply.Message = kerr.KafkaStorageError.Code, fenced.Error()
			p.to <- p.reply
		case p.end > m.upTo:
			kept = append(kept, p)
		case m.err != nil:
			p.reply.Code, p.reply.Message = kerr.KafkaStorageError.Code,
				fmt.Sprintf("the records are written but could not be made durable (%v); a retry is safe for an idempotent producer", m.err)
			p.to <- p.reply
		default:
			p.to <- p.reply
		}
	}
	a.pendingAcks = kept
	if m.err == nil && fenced == nil {
		a.advanceHW(m.upTo)
		if a.wal != nil && m.upTo >= a.wal.EndOffset() {
			a.unsynced = false
		}
	}
	if len(a.pendingAcks) > 0 {
		a.sync.request()
	}
	a.publish()
}

// advanceHW moves the high watermark and wakes parked fetches it satisfies.
func (a *partitionActor) advanceHW(hw int64) {
	if hw <= a.hw {
		return
	}
	a.hw = hw
	kept := a.watchers[:0]
	for _, w := range a.watchers {
		if w.Offset < hw {
			notify(w.Notify)
		} else {
			kept = append(kept, w)
		}
	}
	clear(a.watchers[len(kept):])
	a.watchers = kept
}

// closed reports whether ch is closed; a nil channel never is.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (a *partitionActor) watch(m *WatchRequest) {
	if a.checkServing(-1) != 0 || a.hw > m.Offset || m.Offset < a.wal.StartOffset() {
		notify(m.Notify) // answerable now (with data or an error)
		return
	}
	a.pruneWatchers(time.Now())
	a.watchers = append(a.watchers, m)
	a.publish()
}

// pruneWatchers forgets parked fetches whose wait is over or whose client hung up: their
// handlers have answered or given up already, and idle partitions would otherwise collect
// one per long poll until its deadline.
func (a *partitionActor) pruneWatchers(now time.Time) {
	kept := a.watchers[:0]
	for _, w := range a.watchers {
		if now.Before(w.Deadline) && !closed(w.Abandoned) {
			kept = append(kept, w)
		}
	}
	clear(a.watchers[len(kept):])
	a.watchers = kept
}

func (a *partitionActor) fetch(m *FetchRequest) FetchReply {
	r := FetchReply{Index: m.Index, HighWatermark: -1, LogStartOffset: -1, LeaderEpoch: a.leaderEpoch}
	if r.Code = a.checkServing(m.CurrentLeaderEpoch); r.Code != 0 {
		return r
	}
	r.HighWatermark, r.LogStartOffset = a.hw, a.wal.StartOffset()
	if m.MaxBytes <= 0 {
		if m.Offset < r.LogStartOffset || m.Offset > a.wal.EndOffset() {
			r.Code = kerr.OffsetOutOfRange.Code
		}
		return r
	}
	data, err := a.wal.ReadInto(m.Offset, a.hw, m.MaxBytes, m.Alloc)
	switch {
	case errors.Is(err, wal.ErrOffsetOutOfRange):
		r.Code = kerr.OffsetOutOfRange.Code
	case err != nil:
		a.log.Error().Err(err).Int64("offset", m.Offset).Msg("read partition log")
		r.Code = kerr.KafkaStorageError.Code
	default:
		r.Records = data
	}
	return r
}

func (a *partitionActor) listOffsets(m *ListOffsetsRequest) ListOffsetsReply {
	r := ListOffsetsReply{Index: m.Index, Offset: -1, Timestamp: -1, LeaderEpoch: a.leaderEpoch}
	if r.Code = a.checkServing(m.CurrentLeaderEpoch); r.Code != 0 {
		return r
	}
	switch m.Timestamp {
	case -1: // latest: what consumers can read
		r.Offset = a.hw
	case -2, -4: // earliest, earliest local: there is no remote tier
		r.Offset = a.wal.StartOffset()
		r.LeaderEpoch = a.epochAt(r.Offset)
	case -3: // the record with the largest timestamp
		if ts, off := a.wal.MaxTimestamp(); off >= 0 && off < a.hw {
			r.Offset, r.Timestamp = off, ts
			if o, t, ok := a.recordAt(off, -1, func(t int64) bool { return t == ts }); ok {
				r.Offset, r.Timestamp = o, t
			}
			r.LeaderEpoch = a.epochAt(r.Offset)
		} else {
			r.LeaderEpoch = -1 // an empty log: no record, no epoch
		}
	case -5: // latest tiered: nothing is tiered, which Kafka answers with epoch -1 too
		r.LeaderEpoch = -1
	default:
		if m.Timestamp < 0 {
			r.Code = kerr.UnsupportedVersion.Code
			return r
		}
		if off, ts, ok := a.wal.OffsetForTimestamp(m.Timestamp); ok && off < a.hw {
			// The log answers with the batch; Kafka with the first record at or after.
			r.Offset, r.Timestamp = off, ts
			if o, t, ok := a.recordAt(off, a.wal.StartOffset(), func(t int64) bool { return t >= m.Timestamp }); ok {
				r.Offset, r.Timestamp = o, t
			}
			r.LeaderEpoch = a.epochAt(r.Offset)
		} else {
			r.LeaderEpoch = -1 // no such record: Kafka names no epoch
		}
	}
	return r
}

// epochAt is the leader epoch that wrote offset, as Kafka names it in ListOffsets answers
// (the found batch's epoch; for the earliest offset, the epoch of the log start): from the
// leader-epoch cache, and the current epoch for an offset no cached epoch covers yet (an
// empty log, whose leader has written nothing).
func (a *partitionActor) epochAt(offset int64) int32 {
	epoch := a.leaderEpoch
	for _, e := range a.wal.LeaderEpochs() {
		if e.StartOffset > offset {
			break
		}
		epoch = e.Epoch
	}
	return epoch
}

func (a *partitionActor) deleteRecords(m *DeleteRecordsRequest) DeleteRecordsReply {
	r := DeleteRecordsReply{Index: m.Index, LowWatermark: -1}
	if r.Code = a.checkServing(-1); r.Code != 0 {
		return r
	}
	if !a.cfg.deletable {
		r.Code = kerr.PolicyViolation.Code
		return r
	}
	off := m.Offset
	if off == -1 {
		off = a.hw
	}
	if off < 0 || off > a.hw {
		r.Code = kerr.OffsetOutOfRange.Code
		return r
	}
	if off > a.wal.StartOffset() {
		if err := a.wal.DeleteRecordsBefore(off); err != nil {
			a.log.Error().Err(err).Int64("offset", off).Msg("delete records")
			r.Code = kerr.KafkaStorageError.Code
			return r
		}
		// Idempotent producers keep their retained batches, as in Kafka, whose producer
		// state outlives the records until producer.id.expiration.ms: forgotten, a retry
		// of a producer's deleted last batch was written again (a duplicate), and any
		// sequence was taken after it. (A restart keeps them too, from the snapshot:
		// loadProducerState.)
		a.sizeBytes = a.wal.Size() // whole segments below the new start are gone
	}
	r.LowWatermark = a.wal.StartOffset()
	a.publish()
	return r
}

func (a *partitionActor) epochEnd(m *EpochEndRequest) EpochEndReply {
	r := EpochEndReply{Index: m.Index, LeaderEpoch: -1, EndOffset: -1}
	if r.Code = a.checkServing(m.CurrentLeaderEpoch); r.Code != 0 {
		return r
	}
	r.LeaderEpoch, r.EndOffset = a.wal.EndOffsetForEpoch(m.LeaderEpoch)
	if r.LeaderEpoch < 0 && m.LeaderEpoch >= 0 && m.LeaderEpoch <= a.leaderEpoch {
		// The log learns an epoch from its first batch; Kafka's leader writes its epoch
		// into the cache, at the log end, when it takes over. With nothing appended in
		// the current epoch (an empty partition, say) answer as that cache would: the
		// current epoch ends at the log end, and an older one that the log does not know
		// ends there too, under the newest epoch the log knows. (-1, -1) here made
		// consumers validating their position see a truncation and reset their offset.
		r.LeaderEpoch, r.EndOffset = m.LeaderEpoch, a.hw
		if known := a.wal.LeaderEpochs(); m.LeaderEpoch < a.leaderEpoch && len(known) > 0 {
			r.LeaderEpoch = known[len(known)-1].Epoch
		}
	}
	if r.LeaderEpoch == a.leaderEpoch || (r.LeaderEpoch >= 0 && r.EndOffset > a.hw) {
		// The current epoch ends at the high watermark as far as clients are concerned.
		r.EndOffset = a.hw
	}
	return r
}

// tick runs periodic work: retention, the interval fsync, producer expiry and snapshots.
func (a *partitionActor) tick(m *partitionTick) {
	now := m.now
	if a.wal == nil {
		if a.broken != nil && m.retention {
			a.n.storageLogs.event(&a.log, zerolog.WarnLevel, now).Err(a.broken).Msg("partition unavailable")
		}
		return
	}
	if m.retention {
		a.enforceRetention(now)
	}
	a.maybeClean(now)
	a.pruneWatchers(now)
	if a.syncRetry || (a.unsynced && !a.n.opts.Data.FlushAlways && now.Sub(a.sync.lastRequest) >= a.n.opts.Data.FlushInterval) {
		a.sync.request()
	}
	if a.producers.Expire(now.UnixMilli(), producerExpiry.Milliseconds()) > 0 {
		a.snapDirty = true
	}
	if a.snapDirty && now.Sub(a.lastSnap) >= producerSnapshotInterval {
		a.queueProducerSnapshot()
	}
	a.publish()
}

func (a *partitionActor) enforceRetention(now time.Time) {
	before := a.wal.StartOffset()
	if n, err := a.wal.EnforceRetention(now, a.hw); err != nil {
		a.log.Warn().Err(err).Msg("enforce retention")
	} else if n > 0 {
		a.log.Info().Int("segments", n).Int64("log_start_offset", a.wal.StartOffset()).Msg("retention deleted segments")
	}
	if a.wal.StartOffset() != before {
		// Producer state stays, as after DeleteRecords (deleteRecords says why).
		a.sizeBytes = a.wal.Size()
	}
}

// refresh applies metadata changes: leadership and config.
func (a *partitionActor) refresh(img *metastore.Image) {
	t := img.Topics[a.tp.Topic]
	if t == nil || t.ID != a.topicID || int(a.tp.Partition) >= len(t.Partitions) {
		return // the manager stops us
	}
	a.setLeadership(t.Partitions[a.tp.Partition])
	a.cfg = resolvePartitionConfig(a.n, img, t)
	if a.wal != nil {
		a.wal.SetConfig(a.cfg.wal)
	}
	a.publish()
}

// preparePartitionDir creates the directory and records which topic id it belongs to; a
// directory left by a deleted topic of the same name is removed first. A marker that
// names no topic id (truncated, emptied, overwritten) proves nothing about whose data the
// directory holds, so the directory is left alone and the partition does not open.
func preparePartitionDir(dir string, id metastore.UUID, trash *trash, log zerolog.Logger) error {
	marker := filepath.Join(dir, partitionMarker)
	want := markerPrefix + id.String() + "\n"
	have, err := os.ReadFile(marker)
	switch {
	case err == nil && string(have) == want:
		return nil
	case err == nil:
		if _, ok := parsePartitionMarker(have); !ok {
			return fmt.Errorf("%s holds %q, not a topic id: the directory's data is left untouched; remove the file to keep the data as topic id %s, or the directory to drop it",
				marker, have, id)
		}
		log.Warn().Str("dir", dir).Str("found", string(have)).Msg("partition directory belongs to a deleted topic; removing it")
		if err := trash.discard(dir, "it belongs to a deleted topic"); err != nil {
			return fmt.Errorf("remove stale partition dir: %w", err)
		}
	case !os.IsNotExist(err):
		return fmt.Errorf("read partition marker: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create partition dir %s: %w", dir, err)
	}
	return writeFileSync(marker, []byte(want))
}

// The marker file naming the topic id a partition directory belongs to.
const (
	partitionMarker = "partition.metadata"
	markerPrefix    = "topic_id: "
)

// parsePartitionMarker returns the topic id a marker file's contents name.
func parsePartitionMarker(b []byte) (metastore.UUID, bool) {
	text, ok := strings.CutPrefix(strings.TrimSpace(string(b)), markerPrefix)
	var id metastore.UUID
	if !ok || id.UnmarshalText([]byte(text)) != nil {
		return metastore.UUID{}, false
	}
	return id, true
}
