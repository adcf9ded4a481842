package actors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/actors/producers"
	"github.com/chronik/chronik-node/wal"
	"github.com/chronik/chronik-node/wal/batch"
)

const (
	producerSnapshotFile     = "producer.snapshot"
	producerSnapshotInterval = 30 * time.Second
	producerExpiry           = 24 * time.Hour // Kafka's producer.id.expiration.ms
)

// syncer is a partition's fsync goroutine. The actor keeps appending while an fsync runs;
// every request made during it is served by the next one, so concurrent producers share
// fsyncs (group commit) and the actor never blocks on the disk.
//
// It also writes the periodic producer snapshot, which the actor only encodes: written
// and fsynced on the actor, every partition with idempotent producers stalled on the
// same tick for as long as the busy disk took to fsync a small file.
//
// Under the interval policy it also starts writeback of every writebackBytes appended
// (sync_file_range), so the periodic fsync finds little to flush: a second's worth of
// dirty pages flushed in one burst stalls the appends running meanwhile for tens of
// milliseconds.
type syncer struct {
	log       *wal.Log
	root      *actor.RootContext
	pid       *actor.PID
	wake      chan struct{}
	done      chan struct{}
	sync      atomic.Bool // an fsync is wanted
	writeback atomic.Bool // a writeback kick is wanted

	snapshotPath string
	snapshot     atomic.Pointer[[]byte] // the newest producer snapshot not yet written
	logger       zerolog.Logger
	failureLogs  *storageLogGate

	// Owned by the actor.
	lastRequest    time.Time
	sinceWriteback int
}

// writebackBytes is how much a partition appends between writeback kicks.
const writebackBytes = 256 << 10

func startSyncer(l *wal.Log, root *actor.RootContext, pid *actor.PID, dir string, logger zerolog.Logger, failureLogs *storageLogGate) *syncer {
	s := &syncer{log: l, root: root, pid: pid, wake: make(chan struct{}, 1), done: make(chan struct{}),
		snapshotPath: filepath.Join(dir, producerSnapshotFile), logger: logger, failureLogs: failureLogs}
	go s.run()
	return s
}

// request asks for an fsync covering everything appended so far.
func (s *syncer) request() {
	s.lastRequest = time.Now()
	s.sync.Store(true)
	s.poke()
}

// appended counts bytes appended and kicks writeback every writebackBytes.
func (s *syncer) appended(n int) {
	if s.sinceWriteback += n; s.sinceWriteback >= writebackBytes {
		s.sinceWriteback = 0
		s.writeback.Store(true)
		s.poke()
	}
}

// saveSnapshot has the producer snapshot data written; a newer one replaces it if it has
// not been written yet.
func (s *syncer) saveSnapshot(data []byte) {
	s.snapshot.Store(&data)
	s.poke()
}

func (s *syncer) poke() {
	select {
	case s.wake <- struct{}{}:
	default: // one is already pending; it covers this request too
	}
}

func (s *syncer) run() {
	defer close(s.done)
	for range s.wake {
		if s.writeback.Swap(false) {
			if err := s.log.StartWriteback(); errors.Is(err, wal.ErrClosed) {
				return
			}
		}
		if data := s.snapshot.Swap(nil); data != nil {
			if err := writeFileSync(s.snapshotPath, *data); err != nil {
				s.failureLogs.event(&s.logger, zerolog.WarnLevel, time.Now()).Err(err).Msg("write producer snapshot")
			}
		}
		if !s.sync.Swap(false) {
			continue
		}
		// Everything appended before EndOffset was read is covered by the Sync after it.
		upTo := s.log.EndOffset()
		err := s.log.Sync()
		if errors.Is(err, wal.ErrClosed) {
			return
		}
		s.root.Send(s.pid, &syncDone{upTo: upTo, err: err})
	}
}

func (s *syncer) stop() {
	close(s.wake)
	<-s.done
}

// loadProducerState rebuilds idempotent-producer state: the snapshot, then the batch
// headers written after it. A missing, corrupt or too-new snapshot means a full scan.
func loadProducerState(dir string, l *wal.Log, log zerolog.Logger) *producers.State {
	start := time.Now()
	st, from := producers.New(), l.StartOffset()
	path := filepath.Join(dir, producerSnapshotFile)
	if data, err := os.ReadFile(path); err == nil {
		snap, off, err := producers.UnmarshalSnapshot(data)
		switch {
		case err != nil:
			log.Warn().Err(err).Msg("producer snapshot unreadable; rebuilding from the log")
		case off > l.EndOffset():
			// The log lost its tail (a power failure, say). The snapshot goes at once, as
			// Kafka deletes snapshots past the log end: once appends take the log past its
			// offset again, the next start would load it and take batches the log no
			// longer holds for duplicates of new ones.
			log.Warn().Int64("snapshot_offset", off).Int64("log_end", l.EndOffset()).Msg("producer snapshot is ahead of the log; removing it and rebuilding from the log")
			if err := os.Remove(path); err != nil {
				log.Error().Err(err).Msg("remove producer snapshot ahead of the log")
			}
		case off <= l.StartOffset():
			// Retention or DeleteRecords has moved the log start past it since: Kafka
			// deletes such a snapshot and rebuilds from the log, forgetting producers
			// whose batches are all gone; so does this.
			log.Debug().Int64("snapshot_offset", off).Int64("log_start", l.StartOffset()).Msg("producer snapshot is at or below the log start; removing it and rebuilding from the log")
			if err := os.Remove(path); err != nil {
				log.Error().Err(err).Msg("remove producer snapshot at or below the log start")
			}
		default:
			// Kept whole: producers whose batches lie below the log start keep them until
			// they expire, as in Kafka and as in the running partition (deleteRecords).
			st, from = snap, max(off, l.StartOffset())
		}
	}
	batches, now := 0, time.Now().UnixMilli()
	err := l.ScanHeaders(from, func(h batch.Header) error {
		if h.LastOffset() < from || h.ProducerID < 0 {
			return nil
		}
		pb := producerBatch(h)
		pb.BaseOffset, pb.LastOffset = h.BaseOffset, h.LastOffset()
		st.Apply(pb, now) // headers carry no append time; count idleness from the restart
		batches++
		return nil
	})
	if err != nil {
		log.Warn().Err(err).Msg("scan log for producer state")
	}
	st.Expire(now, producerExpiry.Milliseconds())
	if batches > 0 || st.Len() > 0 {
		// Loading a snapshot is routine, and a node with thousands of partitions logged a
		// line for each at every start; scanning the log past it is worth an info line.
		ev := log.Debug()
		if batches > 0 {
			ev = log.Info()
		}
		ev.Int("producers", st.Len()).Int("batches_scanned", batches).Int64("from", from).Dur("took", time.Since(start)).Msg("producer state rebuilt")
	}
	return st
}

// queueProducerSnapshot encodes the producer state for the syncer to write. A restart
// before it is written reads the previous snapshot and scans more of the log.
func (a *partitionActor) queueProducerSnapshot() {
	if a.wal == nil || a.producers == nil || a.sync == nil {
		return
	}
	a.sync.saveSnapshot(a.producers.MarshalSnapshot(a.wal.EndOffset()))
	a.lastSnap, a.snapDirty = time.Now(), false
}

// saveProducerSnapshot writes the producer state on the actor, at close, once the syncer
// has stopped (so that no older snapshot it still held can overwrite this one).
func (a *partitionActor) saveProducerSnapshot() {
	if a.wal == nil || a.producers == nil {
		return
	}
	data := a.producers.MarshalSnapshot(a.wal.EndOffset())
	if err := writeFileSync(filepath.Join(a.dir, producerSnapshotFile), data); err != nil {
		a.log.Warn().Err(err).Msg("write producer snapshot")
		return
	}
	a.lastSnap, a.snapDirty = time.Now(), false
}

// writeFileSync replaces a file atomically and durably: temp file, fsync, rename.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
