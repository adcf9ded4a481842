package wal

import (
	"fmt"
	"strconv"
	"strings"
)

// EpochEntry says that leader epoch Epoch wrote its first batch at StartOffset.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is the leader-epoch cache Kafka keeps per partition (leader-epoch-checkpoint):
// entries strictly ascending in both epoch and start offset. Followers use it through
// OffsetForLeaderEpoch to find where their log diverges from the leader's.
type epochCache []EpochEntry

func (c epochCache) latest() (EpochEntry, bool) {
	if len(c) == 0 {
		return EpochEntry{}, false
	}
	return c[len(c)-1], true
}

// assign records that epoch starts at offset start, if epoch is newer than the latest.
// Entries at or beyond start cannot be right any more and are dropped.
func (c epochCache) assign(epoch int32, start int64) (epochCache, bool) {
	if epoch < 0 {
		return c, false
	}
	if last, ok := c.latest(); ok && epoch <= last.Epoch {
		return c, false
	}
	c = c.truncateFromEnd(start)
	return append(c, EpochEntry{Epoch: epoch, StartOffset: start}), true
}

// truncateFromEnd drops entries starting at or after end (the new log end offset).
func (c epochCache) truncateFromEnd(end int64) epochCache {
	i := len(c)
	for i > 0 && c[i-1].StartOffset >= end {
		i--
	}
	return c[:i:i]
}

// truncateFromStart forgets epochs that ended before start (the new log start offset); the
// epoch in force at start now starts there.
func (c epochCache) truncateFromStart(start int64) epochCache {
	i := 0
	for i+1 < len(c) && c[i+1].StartOffset <= start {
		i++
	}
	if len(c) == 0 || c[0].StartOffset >= start {
		return c
	}
	return append(epochCache{{Epoch: c[i].Epoch, StartOffset: start}}, c[i+1:]...)
}

// endOffsetFor answers OffsetForLeaderEpoch as Kafka's LeaderEpochFileCache.endOffsetFor
// does: the largest epoch at or below the requested one and the start offset of the next
// epoch (or leo for the latest epoch); (requested, first start) when requested predates
// every entry; (-1, -1) when it is newer than all of them or the cache is empty.
func (c epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	last, ok := c.latest()
	switch {
	case !ok || epoch < 0:
		return -1, -1
	case epoch == last.Epoch:
		return epoch, leo
	case epoch > last.Epoch:
		return -1, -1
	}
	// The first entry with a higher epoch exists; the answer ends where it starts.
	i := 0
	for c[i].Epoch <= epoch {
		i++
	}
	if i == 0 {
		return epoch, c[0].StartOffset
	}
	return c[i-1].Epoch, c[i].StartOffset
}

func (c epochCache) encode() []string {
	lines := make([]string, len(c))
	for i, e := range c {
		lines[i] = fmt.Sprintf("%d %d", e.Epoch, e.StartOffset)
	}
	return lines
}

func decodeEpochs(lines []string) (epochCache, error) {
	c := make(epochCache, 0, len(lines))
	for i, line := range lines {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%w: epoch entry %d: %q", errMalformedCheckpoint, i, line)
		}
		epoch, err1 := strconv.ParseInt(fields[0], 10, 32)
		start, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || start < 0 {
			return nil, fmt.Errorf("%w: epoch entry %d: %q", errMalformedCheckpoint, i, line)
		}
		if last, ok := c.latest(); ok && (int32(epoch) <= last.Epoch || start <= last.StartOffset) {
			return nil, fmt.Errorf("%w: epoch entry %d: %q is not ascending", errMalformedCheckpoint, i, line)
		}
		c = append(c, EpochEntry{Epoch: int32(epoch), StartOffset: start})
	}
	return c, nil
}
