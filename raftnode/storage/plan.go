package storage

import (
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// logBounds is the part of a log's state that writes are validated against. Both
// backends validate with the same code so that they accept and refuse exactly the same
// calls (raft.MemoryStorage panics on most bad input; these checks turn that into errors).
type logBounds struct {
	compacted     uint64 // index of the last discarded entry: FirstIndex-1
	compactedTerm uint64 // term of entry `compacted`, retained for raft's log matching
	last          uint64 // index of the last entry; == compacted when the log is empty
	snapIndex     uint64 // index of the latest snapshot, 0 if none
}

func (b logBounds) firstIndex() uint64 { return b.compacted + 1 }

// savePlan is a validated Save: what to write, already trimmed.
type savePlan struct {
	snap    *raftpb.Snapshot  // applied first when non-nil
	entries []*raftpb.Entry   // consecutive, starting after the compaction point; replace entries >= entries[0]
	hs      *raftpb.HardState // written last when non-nil
}

func (p savePlan) empty() bool { return p.snap == nil && len(p.entries) == 0 && p.hs == nil }

// planSave validates one Save against the current bounds. termAt returns the term of an
// index in (b.compacted, b.last]; it is only consulted when the snapshot is not applied.
func planSave(b logBounds, termAt func(uint64) (uint64, error),
	hs *raftpb.HardState, ents []*raftpb.Entry, snap *raftpb.Snapshot) (savePlan, error) {
	var p savePlan
	if !raft.IsEmptySnap(snap) {
		idx := snap.GetMetadata().GetIndex()
		if b.snapIndex != 0 && b.snapIndex >= idx {
			return savePlan{}, fmt.Errorf("save snapshot at index %d, have snapshot at %d: %w",
				idx, b.snapIndex, raft.ErrSnapOutOfDate)
		}
		p.snap = snap
		// Applying a snapshot resets the log to just after it.
		b = logBounds{compacted: idx, compactedTerm: snap.GetMetadata().GetTerm(), last: idx, snapIndex: idx}
	}
	if err := checkEntries(ents); err != nil {
		return savePlan{}, err
	}
	if len(ents) > 0 && ents[len(ents)-1].GetIndex() > b.compacted {
		if skip := b.firstIndex() - min(ents[0].GetIndex(), b.firstIndex()); skip > 0 {
			ents = ents[skip:] // already compacted into a snapshot
		}
		first := ents[0].GetIndex()
		if first <= b.snapIndex {
			// Entries a snapshot covers are applied, hence committed; raft never
			// rewrites them, and a log shorter than its snapshot would be corrupt.
			return savePlan{}, fmt.Errorf("append at index %d would replace entries covered by snapshot %d: %w",
				first, b.snapIndex, ErrInvalidEntries)
		}
		if first > b.last+1 {
			return savePlan{}, fmt.Errorf("append at index %d leaves a gap after last index %d: %w",
				first, b.last, ErrInvalidEntries)
		}
		prevTerm := b.compactedTerm
		if prev := first - 1; prev > b.compacted {
			t, err := termAt(prev)
			if err != nil {
				return savePlan{}, fmt.Errorf("term of index %d before appended entries: %w", prev, err)
			}
			prevTerm = t
		}
		if ents[0].GetTerm() < prevTerm {
			return savePlan{}, fmt.Errorf("entry %d has term %d, lower than term %d of the entry before: %w",
				first, ents[0].GetTerm(), prevTerm, ErrInvalidEntries)
		}
		p.entries = ents
	}
	if !raft.IsEmptyHardState(hs) {
		p.hs = hs
	}
	return p, nil
}

// checkEntries checks a batch on its own: no nil entries, indexes consecutive from a
// non-zero start, terms never decreasing (true of every raft log).
func checkEntries(ents []*raftpb.Entry) error {
	for k, e := range ents {
		if e == nil {
			return fmt.Errorf("entry %d of %d is nil: %w", k, len(ents), ErrInvalidEntries)
		}
		if k == 0 {
			if e.GetIndex() == 0 {
				return fmt.Errorf("entry at index 0: %w", ErrInvalidEntries)
			}
			continue
		}
		prev := ents[k-1]
		if e.GetIndex() != prev.GetIndex()+1 {
			return fmt.Errorf("entry index %d follows %d: %w", e.GetIndex(), prev.GetIndex(), ErrInvalidEntries)
		}
		if e.GetTerm() < prev.GetTerm() {
			return fmt.Errorf("entry %d has term %d, lower than term %d of entry %d: %w",
				e.GetIndex(), e.GetTerm(), prev.GetTerm(), prev.GetIndex(), ErrInvalidEntries)
		}
	}
	return nil
}

// checkEntriesRange validates an Entries(lo, hi) call against the bounds the way
// raft.MemoryStorage does, but with errors where it would panic.
func checkEntriesRange(b logBounds, lo, hi uint64) error {
	if lo <= b.compacted {
		return raft.ErrCompacted
	}
	if hi > b.last+1 {
		return fmt.Errorf("entries [%d, %d) beyond last index %d: %w", lo, hi, b.last, raft.ErrUnavailable)
	}
	if lo > hi {
		return fmt.Errorf("entries [%d, %d): empty range reversed: %w", lo, hi, raft.ErrUnavailable)
	}
	if b.last == b.compacted {
		return raft.ErrUnavailable // the log holds no entries at all
	}
	return nil
}

// checkTerm validates a Term(i) call. i == b.compacted is valid: its term is retained.
func checkTerm(b logBounds, i uint64) error {
	if i < b.compacted {
		return raft.ErrCompacted
	}
	if i > b.last {
		return raft.ErrUnavailable
	}
	return nil
}

// checkCreateSnapshot validates CreateSnapshot(i).
func checkCreateSnapshot(b logBounds, i uint64) error {
	if i <= b.snapIndex {
		return fmt.Errorf("create snapshot at index %d, have snapshot at %d: %w", i, b.snapIndex, raft.ErrSnapOutOfDate)
	}
	if i > b.last {
		return fmt.Errorf("create snapshot at index %d beyond last index %d: %w", i, b.last, raft.ErrUnavailable)
	}
	if i < b.compacted {
		return fmt.Errorf("create snapshot at index %d, compacted through %d: %w", i, b.compacted, raft.ErrCompacted)
	}
	return nil
}

// checkCompact validates Compact(i).
func checkCompact(b logBounds, i uint64) error {
	if i <= b.compacted {
		return fmt.Errorf("compact through %d, already compacted through %d: %w", i, b.compacted, raft.ErrCompacted)
	}
	if i > b.last {
		return fmt.Errorf("compact through %d beyond last index %d: %w", i, b.last, raft.ErrUnavailable)
	}
	if i > b.snapIndex {
		return fmt.Errorf("compact through %d, latest snapshot at %d: %w", i, b.snapIndex, ErrCompactBeyondSnapshot)
	}
	return nil
}

// limitBySize returns how many of the entries with the given encoded sizes fit in
// maxSize, at least one (raft's limitSize rule, so both backends page identically).
func limitBySize(n int, size func(k int) uint64, maxSize uint64) int {
	if n == 0 {
		return 0
	}
	total := size(0)
	for k := 1; k < n; k++ {
		total += size(k)
		if total > maxSize {
			return k
		}
	}
	return n
}
