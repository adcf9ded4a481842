package producers

import (
	"fmt"
	"slices"
)

// NoEpoch is the epoch of a producer whose epoch is not known (Kafka's
// RecordBatch.NO_PRODUCER_EPOCH).
const NoEpoch int16 = -1

// RetainedBatches is how many recent batches per producer are kept for
// duplicate detection; it matches the Java broker and the client's
// max.in.flight.requests.per.connection limit for idempotence.
const RetainedBatches = 5

// Batch is what Check and Apply need from a record batch header.
// LastSeq is LastSequence(FirstSeq, NumRecords). BaseOffset and LastOffset
// (BaseOffset+LastOffsetDelta) are only read by Apply, once the batch has
// been given its offsets.
type Batch struct {
	ProducerID   int64
	Epoch        int16
	FirstSeq     int32
	LastSeq      int32
	BaseOffset   int64
	LastOffset   int64
	MaxTimestamp int64
}

// BatchMeta is what is remembered of an appended batch. A duplicate is
// answered with the original batch's BaseOffset (and MaxTimestamp when the
// topic uses LogAppendTime).
type BatchMeta struct {
	FirstSeq     int32
	LastSeq      int32
	BaseOffset   int64
	LastOffset   int64
	MaxTimestamp int64
}

// Producer is a copy of one producer's state, for DescribeProducers and tests.
type Producer struct {
	ID          int64
	Epoch       int16
	LastWriteMs int64
	Batches     []BatchMeta // oldest first, at most RetainedBatches
}

// LastSeq returns the last sequence appended by the producer, or -1 when no
// batch is retained.
func (p Producer) LastSeq() int32 {
	if len(p.Batches) == 0 {
		return -1
	}
	return p.Batches[len(p.Batches)-1].LastSeq
}

// entry is the per-producer state; batches is a ring of the last appended
// batches, oldest at start.
type entry struct {
	epoch       int16
	start       uint8
	n           uint8
	lastWriteMs int64
	batches     [RetainedBatches]BatchMeta
}

func (e *entry) at(i int) *BatchMeta {
	return &e.batches[(int(e.start)+i)%RetainedBatches]
}

func (e *entry) newest() *BatchMeta { return e.at(int(e.n) - 1) }

func (e *entry) push(m BatchMeta) {
	if e.n < RetainedBatches {
		*e.at(int(e.n)) = m
		e.n++
		return
	}
	e.batches[e.start] = m
	e.start = (e.start + 1) % RetainedBatches
}

// State is the idempotent-producer state of one partition. The zero value is
// not usable; create it with New.
type State struct {
	producers map[int64]*entry
}

// New returns an empty State.
func New() *State {
	return &State{producers: make(map[int64]*entry)}
}

// Len returns the number of producers tracked.
func (s *State) Len() int { return len(s.producers) }

// Check applies Kafka's idempotence rules to b without changing s.
//
//   - err != nil: reject the batch; Code(err) is the Kafka error code.
//   - isDup: the batch is one of the producer's last RetainedBatches appends;
//     do not append it, answer success with dup.BaseOffset.
//   - otherwise: append the batch, then call Apply.
//
// Batches without a producer id (ProducerID < 0) always pass.
func (s *State) Check(b Batch) (dup BatchMeta, isDup bool, err error) {
	if b.ProducerID < 0 {
		return BatchMeta{}, false, nil
	}
	if b.FirstSeq < 0 || b.LastSeq < 0 {
		return BatchMeta{}, false, fmt.Errorf("producer %d epoch %d: sequence %d..%d: %w",
			b.ProducerID, b.Epoch, b.FirstSeq, b.LastSeq, ErrInvalidSequence)
	}
	e := s.producers[b.ProducerID]
	if e == nil {
		// Unknown producer (new, expired, or state lost): KIP-360 brokers
		// accept any epoch and sequence and start tracking from here.
		if b.Epoch < NoEpoch {
			return BatchMeta{}, false, epochError(b, NoEpoch)
		}
		return BatchMeta{}, false, nil
	}
	if b.Epoch == e.epoch {
		for i := 0; i < int(e.n); i++ {
			m := e.at(i)
			if m.FirstSeq == b.FirstSeq && m.LastSeq == b.LastSeq {
				return *m, true, nil
			}
		}
	}
	switch {
	case b.Epoch < e.epoch:
		return BatchMeta{}, false, epochError(b, e.epoch)
	case b.Epoch > e.epoch:
		// A new epoch restarts the sequence at 0, unless we never knew
		// the producer's epoch.
		if b.FirstSeq != 0 && e.epoch != NoEpoch {
			return BatchMeta{}, false, fmt.Errorf(
				"producer %d: new epoch %d (current %d) must start at sequence 0, got %d: %w",
				b.ProducerID, b.Epoch, e.epoch, b.FirstSeq, ErrOutOfOrderSequence)
		}
		return BatchMeta{}, false, nil
	}
	if e.n == 0 {
		// Epoch known but no batch (a snapshot written by an earlier version,
		// which dropped batches below the log start): the sequence is lost,
		// so any sequence is accepted.
		return BatchMeta{}, false, nil
	}
	if last := e.newest().LastSeq; !inSequence(last, b.FirstSeq) {
		return BatchMeta{}, false, fmt.Errorf(
			"producer %d epoch %d: sequence %d does not follow last sequence %d: %w",
			b.ProducerID, b.Epoch, b.FirstSeq, last, ErrOutOfOrderSequence)
	}
	return BatchMeta{}, false, nil
}

func epochError(b Batch, current int16) error {
	return fmt.Errorf("producer %d: epoch %d is older than current epoch %d: %w",
		b.ProducerID, b.Epoch, current, ErrInvalidProducerEpoch)
}

// Apply records an appended batch: it becomes the producer's newest retained
// batch, a new epoch discards the batches of the old one, and writeTimeMs
// (the append's wall-clock time) restarts the producer's expiry clock.
// Apply does not validate: it is also used to replay the log after a restart.
// Batches without a producer id are ignored.
func (s *State) Apply(b Batch, writeTimeMs int64) {
	if b.ProducerID < 0 {
		return
	}
	e := s.producers[b.ProducerID]
	if e == nil {
		e = &entry{epoch: b.Epoch}
		s.producers[b.ProducerID] = e
	}
	if e.epoch != b.Epoch {
		*e = entry{epoch: b.Epoch}
	}
	e.push(BatchMeta{
		FirstSeq:     b.FirstSeq,
		LastSeq:      b.LastSeq,
		BaseOffset:   b.BaseOffset,
		LastOffset:   b.LastOffset,
		MaxTimestamp: b.MaxTimestamp,
	})
	e.lastWriteMs = writeTimeMs
}

// Expire drops producers that have not written for at least maxAgeMs
// (producer.id.expiration.ms) as of nowMs, and returns how many it dropped.
// A later batch from an expired producer is treated as from a new producer.
func (s *State) Expire(nowMs, maxAgeMs int64) int {
	dropped := 0
	for id, e := range s.producers {
		if nowMs-e.lastWriteMs >= maxAgeMs {
			delete(s.producers, id)
			dropped++
		}
	}
	return dropped
}

// Producer returns a copy of the state of producer id.
func (s *State) Producer(id int64) (Producer, bool) {
	e := s.producers[id]
	if e == nil {
		return Producer{}, false
	}
	return e.export(id), true
}

// Producers returns a copy of every producer's state, ordered by id.
func (s *State) Producers() []Producer {
	ids := s.sortedIDs()
	out := make([]Producer, len(ids))
	for i, id := range ids {
		out[i] = s.producers[id].export(id)
	}
	return out
}

func (s *State) sortedIDs() []int64 {
	ids := make([]int64, 0, len(s.producers))
	for id := range s.producers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (e *entry) export(id int64) Producer {
	p := Producer{ID: id, Epoch: e.epoch, LastWriteMs: e.lastWriteMs}
	if e.n > 0 {
		p.Batches = make([]BatchMeta, e.n)
		for i := range p.Batches {
			p.Batches[i] = *e.at(i)
		}
	}
	return p
}
