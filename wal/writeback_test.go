package wal

import (
	"errors"
	"testing"
	"time"
)

// StartWriteback queues the whole pages appended since the last call, never the partly
// filled last page (the next append writes there, and would wait for its writeback).
func TestStartWritebackQueuesOnlyNewBytes(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 20 // one segment throughout
	l := openTest(t, t.TempDir(), cfg)
	page := int64(l.pageSize)
	wholePages := func(n int64) int64 { return n / page * page }
	for i := 0; i < 10; i++ {
		if _, err := l.Append(makeBatch(10, 100, 1000), 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.StartWriteback(); err != nil {
		t.Fatal(err)
	}
	active := l.active()
	if active.size%page == 0 {
		t.Fatalf("test needs a partly filled last page; the segment holds %d bytes", active.size)
	}
	if active.writtenBack == 0 || active.writtenBack != wholePages(active.size) {
		t.Fatalf("written back %d of %d bytes, want the %d in whole pages", active.writtenBack, active.size, wholePages(active.size))
	}
	// Nothing new: nothing to do; new bytes: only they are queued.
	if err := l.StartWriteback(); err != nil {
		t.Fatal(err)
	}
	before := active.writtenBack
	for i := 0; i < 5; i++ {
		if _, err := l.Append(makeBatch(10, 100, 1000), 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.StartWriteback(); err != nil || active.writtenBack <= before || active.writtenBack != wholePages(active.size) {
		t.Fatalf("after more appends: written back %d of %d (%v)", active.writtenBack, active.size, err)
	}
	// Writeback is not durability: Sync still has the bytes to flush.
	if active.syncedSize != 0 {
		t.Fatalf("StartWriteback marked %d bytes synced", active.syncedSize)
	}
	if err := l.Sync(); err != nil || active.syncedSize != active.size {
		t.Fatalf("sync after writeback: synced %d of %d (%v)", active.syncedSize, active.size, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.StartWriteback(); !errors.Is(err, ErrClosed) {
		t.Fatalf("StartWriteback on a closed log: %v", err)
	}
}
