package wal

import (
	"errors"
	"testing"
	"time"
)

func TestStartWritebackQueuesOnlyNewBytes(t *testing.T) {
	l := openTest(t, t.TempDir(), testConfig())
	for i := 0; i < 3; i++ {
		if _, err := l.Append(makeBatch(10, 100, 1000), 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.StartWriteback(); err != nil {
		t.Fatal(err)
	}
	active := l.active()
	if active.writtenBack != active.size {
		t.Fatalf("written back %d of %d bytes", active.writtenBack, active.size)
	}
	// Nothing new: nothing to do; new bytes: only they are queued.
	if err := l.StartWriteback(); err != nil {
		t.Fatal(err)
	}
	before := active.writtenBack
	if _, err := l.Append(makeBatch(10, 100, 1000), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := l.StartWriteback(); err != nil || active.writtenBack <= before || active.writtenBack != active.size {
		t.Fatalf("after another append: written back %d of %d (%v)", active.writtenBack, active.size, err)
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
