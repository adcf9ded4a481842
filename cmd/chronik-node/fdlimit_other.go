//go:build !unix

package main

import (
	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/metastore"
)

// checkOpenFiles has no limit to read outside Unix.
func checkOpenFiles(zerolog.Logger, *metastore.Image, int) {}

// sealedSegmentFiles sets no bound outside Unix, where no limit is read.
func sealedSegmentFiles() int { return 0 }
