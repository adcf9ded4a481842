package main

import (
	"testing"

	"github.com/chronik/chronik-node/cmd/chronik-node/config"
	"github.com/chronik/chronik-node/internal/memlimit"
)

// A node in a container sizes its default budgets and checking slots to the container's
// limit, keeps what the configuration sets, and leaves big machines as they were.
func TestPlanMemoryFitsDefaultsToTheLimit(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		name                   string
		limit                  memlimit.Limit
		found, envLimit        bool
		setFetch               string // queued.max.fetch.bytes set in the config, if not ""
		wantRequest, wantFetch int64
		wantSlots              int
		wantGoLimit            int64
		wantSessions           int
	}{
		{"no limit found", memlimit.Limit{}, false, false, "", 512 * MiB, 512 * MiB, 4, 0, 0},
		{"a big machine", memlimit.Limit{Bytes: 24 << 30}, true, false, "", 512 * MiB, 512 * MiB, 4, 0, 0},
		{"a 400 MiB container", memlimit.Limit{Bytes: 400 * MiB, Cgroup: true}, true, false, "", 100 * MiB, 100 * MiB, 1, 336 * MiB, 204800},
		{"a 1 GiB container", memlimit.Limit{Bytes: 1024 * MiB, Cgroup: true}, true, false, "", 256 * MiB, 256 * MiB, 4, 1024*MiB - 1024*MiB/10, 524288},
		{"a 128 MiB container: the config minimums", memlimit.Limit{Bytes: 128 * MiB, Cgroup: true}, true, false, "", 32 * MiB, 64 * MiB, 1, 64 * MiB, 65536},
		{"a 4 GiB container", memlimit.Limit{Bytes: 4096 * MiB, Cgroup: true}, true, false, "", 512 * MiB, 512 * MiB, 4, 4096*MiB - 4096*MiB/10, 0},
		{"GOMEMLIMIT set by the operator", memlimit.Limit{Bytes: 400 * MiB, Cgroup: true}, true, true, "", 100 * MiB, 100 * MiB, 1, 0, 204800},
		{"a small VM without a cgroup limit", memlimit.Limit{Bytes: 512 * MiB}, true, false, "", 128 * MiB, 128 * MiB, 2, 0, 262144},
		{"a budget set in the config is kept", memlimit.Limit{Bytes: 400 * MiB, Cgroup: true}, true, false, "300000000", 100 * MiB, 300000000, 1, 336 * MiB, 204800},
	} {
		cfg := config.Default()
		if c.setFetch != "" {
			if err := cfg.Set("queued.max.fetch.bytes", c.setFetch); err != nil {
				t.Fatal(err)
			}
		}
		fit := planMemory(cfg, c.limit, c.found, 2, c.envLimit)
		if cfg.MaxQueuedRequestBytes != c.wantRequest || cfg.MaxQueuedFetchBytes != c.wantFetch || fit.checkSlots != c.wantSlots ||
			fit.goMemLimit != c.wantGoLimit || fit.sessionPartitions != c.wantSessions {
			t.Errorf("%s: request budget %d, fetch budget %d, slots %d, Go limit %d, session partitions %d; want %d, %d, %d, %d, %d", c.name,
				cfg.MaxQueuedRequestBytes, cfg.MaxQueuedFetchBytes, fit.checkSlots, fit.goMemLimit, fit.sessionPartitions,
				c.wantRequest, c.wantFetch, c.wantSlots, c.wantGoLimit, c.wantSessions)
		}
	}
}
