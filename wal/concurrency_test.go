package wal

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik/chronik-node/wal/batch"
)

// TestConcurrentReadersDuringAppendRetentionAndSync runs readers, a syncer and queries
// against an owner that appends, rolls and deletes segments, under the race detector: no
// reader may ever see a partial batch or crash on a deleted segment.
func TestConcurrentReadersDuringAppendRetentionAndSync(t *testing.T) {
	runConcurrentReaders(t, openTest(t, t.TempDir(), concurrencyConfig()))
}

func concurrencyConfig() Config {
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.RetentionBytes = 64 << 10
	return cfg
}

// runConcurrentReaders is the test above on the log l, which it closes.
func runConcurrentReaders(t *testing.T, l *Log) {
	defer l.Close()

	var done atomic.Bool
	var wg sync.WaitGroup
	var reads, outOfRange atomic.Int64
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		done.Store(true)
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for !done.Load() {
				start, end := l.StartOffset(), l.EndOffset()
				if end == start {
					continue
				}
				off := start + rng.Int64N(end-start)
				data, err := l.Read(off, end, 1+rng.IntN(8000))
				if errors.Is(err, ErrOffsetOutOfRange) && off < l.StartOffset() {
					outOfRange.Add(1) // retention overtook the reader; a consumer would reset
					continue
				}
				if err != nil {
					fail("Read(%d): %v", off, err)
					return
				}
				parts, err := batch.Split(data)
				if err != nil || len(parts) == 0 {
					fail("Read(%d) returned %d bytes of partial batches: %v", off, len(data), err)
					return
				}
				next := int64(-1)
				for i, p := range parts {
					h, err := batch.CheckIntegrity(p)
					if err != nil || (i == 0 && (h.BaseOffset > off || h.LastOffset() < off)) || (i > 0 && h.BaseOffset != next) {
						fail("Read(%d) batch %d: %+v, %v", off, i, h, err)
						return
					}
					next = h.LastOffset() + 1
				}
				reads.Add(1)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for !done.Load() {
			if err := l.Sync(); err != nil {
				fail("Sync: %v", err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for !done.Load() {
			l.MaxTimestamp()
			l.OffsetForTimestamp(t0.UnixMilli() + 500)
			l.LeaderEpochs()
			l.EndOffsetForEpoch(1)
			l.Size()
			err := l.ScanHeaders(l.StartOffset(), func(batch.Header) error { return nil })
			if err != nil && !errors.Is(err, ErrOffsetOutOfRange) {
				fail("ScanHeaders: %v", err)
			}
		}
	}()

	var want stored
	rng := rand.New(rand.NewPCG(77, 77))
	for i := 0; i < 200 && !done.Load(); i++ {
		appendRandom(t, l, &want, rng, 1, int32(i/70))
		if i%10 == 0 {
			if _, err := l.EnforceRetention(t0, l.EndOffset()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Keep going until the readers have done real work alongside the owner.
	for deadline := time.Now().Add(10 * time.Second); reads.Load() < 200 && time.Now().Before(deadline); {
		appendRandom(t, l, &want, rng, 1, 2)
	}
	done.Store(true)
	wg.Wait()
	if reads.Load() < 200 {
		t.Fatalf("readers completed only %d reads", reads.Load())
	}
	t.Logf("%d reads, %d overtaken by retention", reads.Load(), outOfRange.Load())
}

// groupCommit is the broker's shape in miniature: producers hand batches to one owner
// goroutine that appends them, and one syncer goroutine that acknowledges every append it
// has made durable with a single Sync.
type groupCommit struct {
	l       *Log
	reqs    chan commitReq
	waiting chan commitReq
	syncs   atomic.Int64
	wg      sync.WaitGroup
}

type commitReq struct {
	batch []byte
	done  chan error
	base  *int64
}

func startGroupCommit(l *Log) *groupCommit {
	g := &groupCommit{l: l, reqs: make(chan commitReq, 1024), waiting: make(chan commitReq, 1024)}
	g.wg.Add(2)
	go g.owner()
	go g.syncer()
	return g
}

func (g *groupCommit) owner() {
	defer g.wg.Done()
	defer close(g.waiting)
	for r := range g.reqs {
		base, err := g.l.Append(r.batch, 0, t0)
		if err != nil {
			r.done <- err
			continue
		}
		*r.base = base
		g.waiting <- r
	}
}

func (g *groupCommit) syncer() {
	defer g.wg.Done()
	for r := range g.waiting {
		group := []commitReq{r}
	drain:
		for {
			select {
			case r, ok := <-g.waiting:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		err := g.l.Sync()
		g.syncs.Add(1)
		for _, r := range group {
			r.done <- err
		}
	}
}

// produce appends b and waits until it is durable, returning its base offset.
func (g *groupCommit) produce(b []byte) (int64, error) {
	var base int64
	done := make(chan error, 1)
	g.reqs <- commitReq{batch: b, done: done, base: &base}
	return base, <-done
}

func (g *groupCommit) stop() {
	close(g.reqs)
	g.wg.Wait()
}

func TestGroupCommitAcknowledgesEveryBatch(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testConfig())
	g := startGroupCommit(l)
	const producers, perProducer = 8, 40
	var mu sync.Mutex
	acked := map[int64][]byte{}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				b := makeBatch(1+(p+i)%5, 100, t0.UnixMilli())
				base, err := g.produce(b)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[base] = b
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	g.stop()
	t.Logf("%d appends made durable by %d syncs", producers*perProducer, g.syncs.Load())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, dir, testConfig())
	defer l.Close()
	got := readAll(t, l, 1<<20)
	if len(got) != producers*perProducer || len(acked) != len(got) {
		t.Fatalf("log holds %d batches, %d were acknowledged", len(got), len(acked))
	}
	for _, b := range got {
		h, _ := batch.ParseHeader(b)
		if string(acked[h.BaseOffset]) != string(b) {
			t.Fatalf("batch at %d is not the one acknowledged there", h.BaseOffset)
		}
	}
}
