//go:build unix

package main

import (
	"syscall"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/metastore"
)

// checkOpenFiles warns when the open-files limit is low for the partitions this node
// holds. Every partition keeps a file open per segment, and a partition that cannot open
// one answers KAFKA_STORAGE_ERROR until the limit is raised, which is easy to miss on a
// machine whose default limit is a few thousand. (Go raises the soft limit to the hard
// one at start, so the hard limit is what counts.)
func checkOpenFiles(log zerolog.Logger, img *metastore.Image) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	partitions := 0
	for _, t := range img.Topics {
		partitions += len(t.Partitions)
	}
	if need := uint64(2*partitions + 1024); lim.Cur < need {
		log.Warn().Uint64("open_files_limit", lim.Cur).Int("partitions", partitions).Uint64("suggested_at_least", need).
			Msg("the open-files limit is low for this many partitions (each keeps a file per segment open); raise it (ulimit -n, or LimitNOFILE= under systemd)")
		return
	}
	log.Info().Uint64("open_files_limit", lim.Cur).Int("partitions", partitions).Msg("open-files limit")
}
