package main

import (
	"runtime/debug"
)

// buildVersion is what the node calls its version: the one set at build time with
// -ldflags "-X main.version=...", or else the commit the Go toolchain stamped into the
// binary (go build in a git checkout records vcs.revision and vcs.modified), so that an
// operator, a log line and the metrics can tell two builds apart. "dev" is left only for a
// binary built outside a checkout.
func buildVersion(set string, info *debug.BuildInfo, ok bool) string {
	if set != "dev" || !ok {
		return set
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return set
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}
