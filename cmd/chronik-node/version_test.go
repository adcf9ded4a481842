package main

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersionNamesTheCommit(t *testing.T) {
	stamped := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "4f01a97c0ffee1234567890abcdef0123456789a"},
		{Key: "vcs.modified", Value: "false"},
	}}
	dirty := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "4f01a97c0ffee1234567890abcdef0123456789a"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, c := range []struct {
		name, set string
		info      *debug.BuildInfo
		ok        bool
		want      string
	}{
		{"set with ldflags wins", "1.2.0", stamped, true, "1.2.0"},
		{"commit of a clean checkout", "dev", stamped, true, "dev-4f01a97c0ffe"},
		{"commit with local changes", "dev", dirty, true, "dev-4f01a97c0ffe-dirty"},
		{"built outside a checkout", "dev", &debug.BuildInfo{}, true, "dev"},
		{"no build info", "dev", nil, false, "dev"},
	} {
		if got := buildVersion(c.set, c.info, c.ok); got != c.want {
			t.Errorf("%s: buildVersion = %q, want %q", c.name, got, c.want)
		}
	}
}
