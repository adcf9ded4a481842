//go:build unix

package main

import (
	"syscall"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/metastore"
)

// sealedSegmentFiles returns how many sealed segments' data files the partitions may keep
// open at once: a quarter of the open-files limit, at least 64. The rest is left to what
// must stay open: each partition's active segment, connections, the metadata files.
// (Go raises the soft limit to the hard one at start, so that is the limit read.)
func sealedSegmentFiles() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return int(max(64, min(lim.Cur, 1<<40)/4))
}

// checkOpenFiles warns when the open-files limit is low for the partitions this node
// holds. Every partition keeps its active segment's file open, and sealed segments share
// sealedFiles more; a partition that cannot open a file answers KAFKA_STORAGE_ERROR until
// the limit is raised, which is easy to miss on a machine whose default limit is a few
// thousand.
func checkOpenFiles(log zerolog.Logger, img *metastore.Image, sealedFiles int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	partitions := 0
	for _, t := range img.Topics {
		partitions += len(t.Partitions)
	}
	// 512 for connections and the node's own files.
	if need := uint64(partitions + sealedFiles + 512); lim.Cur < need {
		// With 4×(partitions+512), the sealed segments' quarter leaves room for the rest.
		log.Warn().Uint64("open_files_limit", lim.Cur).Int("partitions", partitions).Int("sealed_segment_files", sealedFiles).
			Uint64("suggested_at_least", 4*uint64(partitions+512)).
			Msg("the open-files limit is low for this many partitions (each keeps its active segment's file open); raise it (ulimit -n, or LimitNOFILE= under systemd)")
		return
	}
	log.Info().Uint64("open_files_limit", lim.Cur).Int("partitions", partitions).Int("sealed_segment_files", sealedFiles).Msg("open-files limit")
}
