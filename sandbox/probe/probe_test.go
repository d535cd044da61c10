package probe

import (
	"context"
	"os/exec"
	"runtime"
	"testing"
)

func TestRunFindsBwrap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the probes are Linux-only; macOS uses seatbelt")
	}
	checks := Run(context.Background())
	byName := map[string]Check{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	_, err := exec.LookPath("bwrap")
	if got := byName["bwrap"].OK; got != (err == nil) {
		t.Fatalf("bwrap check OK=%v, but LookPath err=%v", got, err)
	}
	if err == nil && !byName["user namespaces"].OK {
		t.Fatalf("bwrap is installed but the user namespace probe failed: %s", byName["user namespaces"].Detail)
	}
	if !byName["seccomp"].OK {
		t.Fatalf("seccomp probe failed: %s", byName["seccomp"].Detail)
	}
	caps := Capabilities(checks)
	if _, ok := caps["bwrap"]; ok != byName["bwrap"].OK {
		t.Fatalf("Capabilities disagrees with the checks: %v", caps)
	}
}

func TestRunReportsMissingBwrap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the probes are Linux-only; macOS uses seatbelt")
	}
	t.Setenv("PATH", t.TempDir())
	c := bwrap(context.Background())
	if c.OK || c.Fix == "" || !c.Required {
		t.Fatalf("with no bwrap on PATH: %+v", c)
	}
}
