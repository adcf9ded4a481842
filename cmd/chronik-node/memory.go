package main

import (
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"

	"github.com/chronik/chronik-node/cmd/chronik-node/config"
	"github.com/chronik/chronik-node/internal/memlimit"
)

// The node's large memory holders are sized for a machine with a few GiB to spare: the
// request and fetch budgets (512 MiB each) and the slots for checking compressed
// batches (32 MiB each, two per CPU). In a container with a smaller memory limit a busy
// node would cross the limit and the kernel would kill it: 256 Fetches pipelined by
// clients that read slowly held 512 MiB and killed a node limited to 400 MiB. So the
// defaults shrink to fit the memory found, and the Go runtime is told the limit.
const (
	// budgetShare is the part of the memory each of the two budgets may take by default.
	budgetShare = 4
	// checkShare is the part the compressed-batch checks may hold together (actors turns
	// it into slots), sessionShare the part incremental fetch sessions may (wire turns it
	// into a partition bound).
	checkShare   = 8
	sessionShare = 8
	// indexShare is the part sealed segments' indexes may keep in memory; beyond it the
	// least recently used are read back from their files when needed.
	indexShare = 32
	// goOutsideHeap is room left under a cgroup's limit for what the Go soft limit does
	// not count: the binary's pages, goroutine stacks, the runtime's own structures.
	goOutsideHeap = 64 << 20
	// Config minimums of the budgets (config/keys.go).
	minRequestBudget = 1 << 20
	minFetchBudget   = 64 << 20
)

// memoryFit is what planMemory decided.
type memoryFit struct {
	limit memlimit.Limit
	found bool
	// checkMemory and sessionMemory bound the compressed-batch checks and the fetch
	// sessions' partitions; 0 leaves the packages' own defaults.
	checkMemory, sessionMemory int64
	// indexMemory bounds the sealed segments' indexes held in memory; 0: no bound.
	indexMemory int64
	goMemLimit  int64 // the Go runtime's soft limit to set; 0 leaves it alone
}

// fitToMemory finds the memory this process may use, fits the configuration's default
// budgets to it (planMemory) and tells the Go runtime a cgroup's limit.
func fitToMemory(cfg *config.Config, log zerolog.Logger) memoryFit {
	lim, found := memlimit.Detect("/")
	fit := planMemory(cfg, lim, found, os.Getenv("GOMEMLIMIT") != "")
	if fit.goMemLimit > 0 {
		debug.SetMemoryLimit(fit.goMemLimit)
	}
	if !found {
		return fit
	}
	ev := log.Info()
	if held := cfg.MaxQueuedRequestBytes + cfg.MaxQueuedFetchBytes; held > lim.Bytes/2 {
		ev = log.Warn().Str("advice", "the configured budgets can hold more than half of the memory; lower queued.max.request.bytes and queued.max.fetch.bytes")
	}
	ev.Int64("memory_limit", lim.Bytes).Str("source", lim.Source).
		Int64("queued_max_request_bytes", cfg.MaxQueuedRequestBytes).Int64("queued_max_fetch_bytes", cfg.MaxQueuedFetchBytes).
		Int64("compressed_check_bytes", fit.checkMemory).Int64("fetch_session_bytes", fit.sessionMemory).
		Int64("segment_index_bytes", fit.indexMemory).
		Int64("go_memory_limit", fit.goMemLimit).Msg("memory")
	return fit
}

// planMemory shrinks the budgets the configuration leaves at their defaults to a
// quarter each of the memory found (a cgroup's limit, or the machine's RAM), gives the
// compressed-batch checks and the fetch sessions an eighth each (their packages turn
// that into slots and a partition bound), and asks for a Go soft limit of a cgroup's
// limit less a tenth (at least 64 MiB) unless the environment sets GOMEMLIMIT. Budgets
// set in the configuration are kept as set.
func planMemory(cfg *config.Config, lim memlimit.Limit, found bool, envLimit bool) memoryFit {
	fit := memoryFit{limit: lim, found: found}
	if !found {
		return fit
	}
	_, set := cfg.Values()
	share := lim.Bytes / budgetShare
	if !set["queued.max.request.bytes"] && cfg.MaxQueuedRequestBytes > share {
		cfg.MaxQueuedRequestBytes = max(share, minRequestBudget)
	}
	if !set["queued.max.fetch.bytes"] && cfg.MaxQueuedFetchBytes > share {
		cfg.MaxQueuedFetchBytes = max(share, minFetchBudget)
	}
	fit.checkMemory, fit.sessionMemory = lim.Bytes/checkShare, lim.Bytes/sessionShare
	fit.indexMemory = lim.Bytes / indexShare
	if lim.Cgroup && !envLimit {
		// The soft limit covers the Go heap only; the binary, stacks and the runtime's own
		// structures come on top, a few tens of MiB however small the limit.
		fit.goMemLimit = max(lim.Bytes-max(lim.Bytes/10, goOutsideHeap), lim.Bytes/2)
	}
	return fit
}
