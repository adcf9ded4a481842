package actors

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The gate lets a burst of lines through per window, holds back the rest, and the first
// line of the next window says how many it held back.
func TestStorageLogGateBoundsLinesAndCountsTheRest(t *testing.T) {
	var out bytes.Buffer
	logger := zerolog.New(&out)
	var g storageLogGate
	now := time.Unix(1000, 0)
	for i := 0; i < storageLogBurst+7; i++ {
		g.event(&logger, zerolog.ErrorLevel, now.Add(time.Duration(i)*time.Millisecond)).Msg("append to partition log")
	}
	if lines := strings.Count(out.String(), "\n"); lines != storageLogBurst {
		t.Fatalf("%d lines logged in one window, want %d", lines, storageLogBurst)
	}
	out.Reset()
	g.event(&logger, zerolog.ErrorLevel, now.Add(storageLogWindow)).Msg("append to partition log")
	if !strings.Contains(out.String(), `"node_storage_failures_not_logged":7`) {
		t.Fatalf("first line of the next window: %s; want it to count the 7 held back", out.String())
	}
}
