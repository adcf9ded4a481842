package storage

import (
	"math"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// memoryStorage wraps raft.MemoryStorage. The wrapper exists to turn MemoryStorage's
// panics on bad input into errors (every call is validated first, under mu, so the
// validation and the call see the same state) and to add Empty, Stats and Close.
type memoryStorage struct {
	// mu is held shared by reads and exclusively by writes and InitialState.
	// MemoryStorage has its own mutex, but InitialState reads its fields without it.
	mu     sync.RWMutex
	ms     *raft.MemoryStorage
	closed bool
	// Mirrors of MemoryStorage state, kept so that the hot path need not clone the
	// snapshot (MemoryStorage.Snapshot copies its data) just to learn its index.
	snapIndex    uint64
	hasHardState bool
}

// NewMemory returns an empty in-memory Storage. Nothing survives the process; it exists
// for tests, benchmarks and nodes that rebuild their Raft state from peers.
func NewMemory() Storage {
	return &memoryStorage{ms: raft.NewMemoryStorage()}
}

// bounds reads the log's bounds; the caller holds mu.
func (m *memoryStorage) bounds() logBounds {
	first, _ := m.ms.FirstIndex() // MemoryStorage never returns errors here
	last, _ := m.ms.LastIndex()
	compactedTerm, _ := m.ms.Term(first - 1)
	return logBounds{compacted: first - 1, compactedTerm: compactedTerm, last: last, snapIndex: m.snapIndex}
}

func (m *memoryStorage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, nil, ErrClosed
	}
	hs, cs, err := m.ms.InitialState()
	if err != nil {
		return nil, nil, err
	}
	// Clone: MemoryStorage hands out its own pointers.
	var hsCopy *raftpb.HardState
	if hs != nil {
		hsCopy = proto.Clone(hs).(*raftpb.HardState)
	}
	return hsCopy, proto.Clone(cs).(*raftpb.ConfState), nil
}

func (m *memoryStorage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if err := checkEntriesRange(m.bounds(), lo, hi); err != nil {
		return nil, err
	}
	return m.ms.Entries(lo, hi, maxSize)
}

func (m *memoryStorage) Term(i uint64) (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.ms.Term(i)
}

func (m *memoryStorage) LastIndex() (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.ms.LastIndex()
}

func (m *memoryStorage) FirstIndex() (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.ms.FirstIndex()
}

func (m *memoryStorage) Snapshot() (*raftpb.Snapshot, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	return m.ms.Snapshot()
}

func (m *memoryStorage) Save(hs *raftpb.HardState, entries []*raftpb.Entry, snap *raftpb.Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	p, err := planSave(m.bounds(), m.ms.Term, hs, entries, snap)
	if err != nil {
		return err
	}
	// Every check MemoryStorage makes has passed in planSave, so the calls below cannot
	// fail half-way.
	if p.snap != nil {
		if err := m.ms.ApplySnapshot(p.snap); err != nil {
			return err
		}
		m.snapIndex = p.snap.GetMetadata().GetIndex()
	}
	if err := m.ms.Append(p.entries); err != nil {
		return err
	}
	if p.hs != nil {
		m.hasHardState = true
		return m.ms.SetHardState(proto.Clone(p.hs).(*raftpb.HardState))
	}
	return nil
}

func (m *memoryStorage) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte) (*raftpb.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if err := checkCreateSnapshot(m.bounds(), i); err != nil {
		return nil, err
	}
	snap, err := m.ms.CreateSnapshot(i, cs, data)
	if err != nil {
		return nil, err
	}
	m.snapIndex = i
	// snap is MemoryStorage's clone; fill in absent fields so that it equals what
	// Snapshot returns later, as the bolt backend's does.
	return raftpb.EnsureSnapshot(snap), nil
}

func (m *memoryStorage) Compact(compactIndex uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := checkCompact(m.bounds(), compactIndex); err != nil {
		return err
	}
	return m.ms.Compact(compactIndex)
}

func (m *memoryStorage) Empty() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return false
	}
	last, _ := m.ms.LastIndex()
	return !m.hasHardState && m.snapIndex == 0 && last == 0
}

// Stats walks the entries to size them; it is meant for metrics, not the hot path.
func (m *memoryStorage) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := m.bounds()
	snap, _ := m.ms.Snapshot()
	st := Stats{
		Mode:          ModeMemory,
		FirstIndex:    b.firstIndex(),
		LastIndex:     b.last,
		SnapshotIndex: snap.GetMetadata().GetIndex(),
		SnapshotTerm:  snap.GetMetadata().GetTerm(),
		Entries:       b.last - b.compacted,
		SnapshotBytes: int64(len(snap.GetData())),
	}
	if st.Entries > 0 {
		ents, _ := m.ms.Entries(b.firstIndex(), b.last+1, math.MaxUint64)
		for _, e := range ents {
			st.LogBytes += int64(proto.Size(e))
		}
	}
	return st
}

func (m *memoryStorage) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
