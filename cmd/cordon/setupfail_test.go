package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setupFailed checks DESIGN's contract for a sandbox that cannot be set
// up: status 125, one line on stderr that names the reason, nothing run.
func (e *env) setupFailed(r result, marker, reason string) {
	e.t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != exitSetup || len(lines) != 1 || !strings.HasPrefix(lines[0], "cordon: ") || !strings.Contains(lines[0], reason) {
		e.t.Errorf("exit %d, stderr %q; want %d and one cordon line naming %q", r.code, r.stderr, exitSetup, reason)
	}
	if _, err := os.Stat(marker); err == nil {
		e.t.Error("the command ran")
	}
}

// TestSetupFailureIs125 runs cordon where bwrap cannot make its
// namespaces (a user namespace whose max_user_namespaces is 0) and where
// bwrap refuses a mount (a deny_read file removed between the plan and
// bwrap): bwrap exits 1 either way, which must not pass for the
// command's status.
func TestSetupFailureIs125(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		tmp := filepath.Join(e.home, "tmp")
		os.MkdirAll(tmp, 0o700)
		e.chown()
		// The bwrap backend's failures: no Landlock backend instead, and
		// no probe (which would run the wrapper below before the plan).
		e.extra = []string{"TMPDIR=" + tmp, "CORDON_BACKEND=bwrap"}
		marker := filepath.Join(e.ws, "ran")
		// Positive control: the command's own status 1 stays 1.
		if r := e.cordon("", "run", "--", "sh", "-c", "exit 1"); r.code != 1 {
			t.Fatalf("the command's status 1 became %d: %s", r.code, r.stderr)
		}

		e.wrap = []string{"unshare", "-U", "-r", "sh", "-c", `echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" "$@"`}
		e.setupFailed(e.cordon("", "run", "--", "touch", marker), marker, "namespace")
		e.wrap = nil

		// bwrap found through PATH is a wrapper that removes the file the
		// plan saw, then runs the real one: its bind has no target to
		// create on the read-only root.
		secret := filepath.Join(e.home, "secret")
		os.WriteFile(secret, []byte("s"), 0o644)
		bin := filepath.Join(e.home, "bin")
		os.MkdirAll(bin, 0o755)
		os.WriteFile(filepath.Join(bin, "bwrap"), []byte("#!/bin/sh\nrm -f "+secret+"\nexec /usr/bin/bwrap \"$@\"\n"), 0o755)
		e.write(".sandbox.toml", "[filesystem]\ndeny_read = [\""+secret+"\"]\n")
		e.extra = append(e.extra, "PATH="+bin+":"+os.Getenv("PATH"))
		e.setupFailed(e.cordon("", "run", "--", "touch", marker), marker, "bwrap: ")
	})
}
