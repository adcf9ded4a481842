package wal

import (
	"errors"
	"syscall"
)

// Appends write into blocks reserved ahead of them. On ext4 an append that must allocate
// as it goes (delayed allocation) costs the writer 30-40% more CPU per byte than one into
// reserved blocks: 4.4 against 6.3 GB/s of CPU for 256 KiB writes on the benchmark VM
// (docs/benchmarks.md). The reservation keeps the file's size, so readers and recovery see
// only the data; sealing a segment or closing the log gives the unused rest back.
//
// The step grows with the segment, so a quiet partition holds back little disk: a
// segment reserves about as much again as it holds, from preallocMin up to preallocMax.
const (
	preallocMin = 64 << 10
	preallocMax = 16 << 20
)

// reserve makes sure the active segment seg has disk blocks up to end before a write that
// ends there. It never fails the write: where the file system cannot reserve (no
// support, or no space left), the write allocates as it goes, or fails on its own.
func (l *Log) reserve(seg *segment, end int64) {
	if l.noPrealloc || end <= seg.reserved {
		return
	}
	step := min(max(seg.size, preallocMin), preallocMax)
	// Not past the size at which the segment rolls, unless one batch alone is bigger.
	want := max(end, min(end+step, l.cfg.SegmentBytes))
	from := max(seg.reserved, seg.size)
	if err := seg.file.Preallocate(from, want-from); err != nil {
		if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EOPNOTSUPP) {
			l.noPrealloc = true
			l.logger.Debug().Err(err).Msg("wal: file system cannot preallocate; appends allocate as they go")
		}
		// Out of space, most likely: try again at the next write, which may still fit.
		return
	}
	seg.reserved = want
}

// releaseReserve gives back the blocks seg reserved past its data: truncating a file to
// its own size frees the blocks beyond it.
func (l *Log) releaseReserve(seg *segment) {
	if seg.reserved <= seg.size {
		return
	}
	if err := seg.file.Truncate(seg.size); err != nil {
		// Only disk space is lost, until the segment is deleted or the next start.
		l.logger.Warn().Err(err).Str("file", seg.logPath()).Msg("wal: cannot release preallocated blocks")
		return
	}
	seg.reserved = seg.size
}
