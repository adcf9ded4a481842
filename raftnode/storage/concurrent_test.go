package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// testConcurrent has one goroutine write (appends, suffix overwrites, snapshots,
// compactions, snapshot installs) as the node's storage goroutine would, while readers
// do what raft's goroutine does. Every read must be internally consistent: the entries
// it returns are consecutive from lo and are exactly what was written at those indexes.
func testConcurrent(t *testing.T, s Storage) {
	const writes = 400
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads > 0 {
						return
					}
				default:
				}
				if err := checkConcurrentRead(s, rng); err != nil {
					errs <- err
					return
				}
			}
		})
	}

	rng := rand.New(rand.NewPCG(42, 42))
	var term, last, snapIndex uint64 = 1, 0, 0
	for w := range writes {
		switch {
		case w%97 == 96: // install a snapshot from a leader
			term++
			last += 10
			mustSave(t, s, hardState(term, 1, last), nil, snapshot(last, term, []uint64{1}, []byte("installed")))
			snapIndex = last
		case w%23 == 22 && last > snapIndex+5: // snapshot and compact, keeping a window
			if _, err := s.CreateSnapshot(last, nil, []byte("snap")); err != nil {
				t.Fatalf("CreateSnapshot(%d): %v", last, err)
			}
			if err := s.Compact(last - 5); err != nil {
				t.Fatalf("Compact(%d): %v", last-5, err)
			}
			snapIndex = last
		default: // append, sometimes replacing a suffix (above the snapshot) under a new term
			from := last + 1
			if rng.IntN(5) == 0 && last > snapIndex+3 {
				from = last - uint64(rng.IntN(3))
				term++
			}
			n := uint64(1 + rng.IntN(8))
			mustSave(t, s, hardState(term, 1, from-1), entries(from, from+n-1, term), nil)
			last = from + n - 1
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func checkConcurrentRead(s Storage, rng *rand.Rand) error {
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil {
		return err
	}
	if last < first {
		return nil
	}
	lo := first + uint64(rng.IntN(int(last-first+1)))
	hi := min(last+1, lo+uint64(1+rng.IntN(16)))
	ents, err := s.Entries(lo, hi, noLimit)
	if errors.Is(err, raft.ErrCompacted) || errors.Is(err, raft.ErrUnavailable) {
		return nil // the log moved between the calls: raft copes with both
	}
	if err != nil {
		return err
	}
	var prevTerm uint64
	for k, e := range ents {
		if err := checkWrittenEntry(e, lo+uint64(k), prevTerm); err != nil {
			return err
		}
		prevTerm = e.GetTerm()
		if term, err := s.Term(e.GetIndex()); err == nil && term < e.GetTerm() {
			// A later Term may see a newer, overwriting entry (higher term), never an older one.
			return errorf("Term(%d) = %d after Entries returned term %d", e.GetIndex(), term, e.GetTerm())
		}
	}
	return nil
}

func checkWrittenEntry(e *raftpb.Entry, index, prevTerm uint64) error {
	if e.GetIndex() != index {
		return errorf("entry at position of index %d has index %d", index, e.GetIndex())
	}
	if e.GetTerm() < prevTerm {
		return errorf("entry %d has term %d after term %d", index, e.GetTerm(), prevTerm)
	}
	if !bytes.Equal(e.GetData(), payload(e.GetIndex(), e.GetTerm())) {
		return errorf("entry %d term %d carries %q", index, e.GetTerm(), e.GetData())
	}
	return nil
}
