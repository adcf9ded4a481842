package main

import (
	"testing"

	"github.com/chronik/chronik-node/cmd/chronik-node/config"
	"github.com/chronik/chronik-node/internal/memlimit"
)

// A node in a container sizes its default budgets, and the memory of its compressed-batch
// checks, fetch sessions and sealed segments' indexes (a 32nd), to the container's limit, keeps what the configuration sets,
// and leaves big machines' budgets as they were.
func TestPlanMemoryFitsDefaultsToTheLimit(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		name                   string
		limit                  memlimit.Limit
		found, envLimit        bool
		setFetch               string // queued.max.fetch.bytes set in the config, if not ""
		wantRequest, wantFetch int64
		wantGoLimit            int64
		wantEighth             int64 // the checks' and the sessions' memory each
	}{
		{"no limit found", memlimit.Limit{}, false, false, "", 512 * MiB, 512 * MiB, 0, 0},
		{"a big machine", memlimit.Limit{Bytes: 24 << 30}, true, false, "", 512 * MiB, 512 * MiB, 0, 3 << 30},
		{"a 400 MiB container", memlimit.Limit{Bytes: 400 * MiB, Cgroup: true}, true, false, "", 100 * MiB, 100 * MiB, 336 * MiB, 50 * MiB},
		{"a 1 GiB container", memlimit.Limit{Bytes: 1024 * MiB, Cgroup: true}, true, false, "", 256 * MiB, 256 * MiB, 1024*MiB - 1024*MiB/10, 128 * MiB},
		{"a 128 MiB container: the config minimums", memlimit.Limit{Bytes: 128 * MiB, Cgroup: true}, true, false, "", 32 * MiB, 64 * MiB, 64 * MiB, 16 * MiB},
		{"a 4 GiB container", memlimit.Limit{Bytes: 4096 * MiB, Cgroup: true}, true, false, "", 512 * MiB, 512 * MiB, 4096*MiB - 4096*MiB/10, 512 * MiB},
		{"GOMEMLIMIT set by the operator", memlimit.Limit{Bytes: 400 * MiB, Cgroup: true}, true, true, "", 100 * MiB, 100 * MiB, 0, 50 * MiB},
		{"a small VM without a cgroup limit", memlimit.Limit{Bytes: 512 * MiB}, true, false, "", 128 * MiB, 128 * MiB, 0, 64 * MiB},
		{"a budget set in the config is kept", memlimit.Limit{Bytes: 400 * MiB, Cgroup: true}, true, false, "300000000", 100 * MiB, 300000000, 336 * MiB, 50 * MiB},
	} {
		cfg := config.Default()
		if c.setFetch != "" {
			if err := cfg.Set("queued.max.fetch.bytes", c.setFetch); err != nil {
				t.Fatal(err)
			}
		}
		fit := planMemory(cfg, c.limit, c.found, c.envLimit)
		if cfg.MaxQueuedRequestBytes != c.wantRequest || cfg.MaxQueuedFetchBytes != c.wantFetch || fit.goMemLimit != c.wantGoLimit ||
			fit.checkMemory != c.wantEighth || fit.sessionMemory != c.wantEighth || fit.indexMemory != c.wantEighth/4 {
			t.Errorf("%s: request budget %d, fetch budget %d, Go limit %d, checks %d, sessions %d, indexes %d; want %d, %d, %d, %d, %d, %d", c.name,
				cfg.MaxQueuedRequestBytes, cfg.MaxQueuedFetchBytes, fit.goMemLimit, fit.checkMemory, fit.sessionMemory, fit.indexMemory,
				c.wantRequest, c.wantFetch, c.wantGoLimit, c.wantEighth, c.wantEighth, c.wantEighth/4)
		}
	}
}
