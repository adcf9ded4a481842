package actors

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// storageLogGate bounds the lines partitions log about storage failures, over the whole
// node. Each partition already logs a failure at most once a second (appends) or ten
// seconds (opens), but when a cause shared by every partition strikes (the file table
// exhausted, the disk full) thousands of partitions fail at once: 25,000 partitions
// over a 20,000-file limit wrote 178,000 lines in five minutes, burying the first line
// that said what was wrong. The gate lets storageLogBurst lines through per
// storageLogWindow and counts the rest, which the next line that passes reports.
type storageLogGate struct {
	mu         sync.Mutex
	window     time.Time // start of the current window
	passed     int       // lines let through in it
	suppressed int       // lines held back since the last one let through
}

const (
	storageLogWindow = 10 * time.Second
	storageLogBurst  = 20
)

// event returns a logger event for a storage failure at level, or nil when the gate holds
// it back (zerolog's nil event logs nothing). A line let through after others were held
// back carries their count.
func (g *storageLogGate) event(l *zerolog.Logger, level zerolog.Level, now time.Time) *zerolog.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.window) >= storageLogWindow {
		g.window, g.passed = now, 0
	}
	if g.passed >= storageLogBurst {
		g.suppressed++
		return nil
	}
	g.passed++
	e := l.WithLevel(level)
	if g.suppressed > 0 {
		e = e.Int("node_storage_failures_not_logged", g.suppressed)
		g.suppressed = 0
	}
	return e
}
