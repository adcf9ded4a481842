package test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHelpFlagsListsTheNodeFlags: the usage text sends readers to --help-flags, which
// was not a flag at all (the node tried to start and failed on it).
func TestHelpFlagsListsTheNodeFlags(t *testing.T) {
	usage, _ := exec.Command(chronikBin, "--help").CombinedOutput()
	if !strings.Contains(string(usage), "--help-flags") {
		t.Fatalf("usage no longer mentions --help-flags:\n%s", usage)
	}
	out, err := exec.Command(chronikBin, "--help-flags").CombinedOutput()
	if err != nil {
		t.Fatalf("chronik-node --help-flags: %v\n%s", err, out)
	}
	for _, flag := range []string{"-config", "-data-dir", "-listen", "-set"} {
		if !strings.Contains(string(out), flag) {
			t.Fatalf("--help-flags does not list %s:\n%s", flag, out)
		}
	}
}
