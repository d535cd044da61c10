//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// noUserns runs cordon with args the way a machine without user
// namespaces would: inside a user namespace whose max_user_namespaces
// is 0 (what CI uses to stand for Docker's default seccomp profile,
// Ubuntu's AppArmor restriction, or a sysctl), as root and as the test
// user.
func (e *env) noUserns(args ...string) result {
	e.t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		e.t.Fatalf("unshare (util-linux) is required: %v", err)
	}
	saved := e.wrap
	e.wrap = noUsernsWrap
	defer func() { e.wrap = saved }()
	r := e.cordon("", args...)
	if r.code == 99 {
		e.t.Fatalf("could not simulate a machine without user namespaces:\n%s", r.stderr)
	}
	return r
}

// TestNoUserNamespacesNamesTheFix: where bwrap cannot make its
// namespaces and the bwrap backend is asked for (CORDON_BACKEND=bwrap),
// the refusal (status 125, nothing run: TestSetupFailureIs125) says how to
// allow them on this machine.
func TestNoUserNamespacesNamesTheFix(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		marker := filepath.Join(e.ws, "ran")
		e.extra = append(e.extra, "CORDON_BACKEND=bwrap")
		r := e.noUserns("run", "--", "touch", marker)
		if r.code != exitSetup {
			t.Errorf("exit %d, want %d\n%s", r.code, exitSetup, r.stderr)
		}
		for _, want := range []string{"nothing was run", "max_user_namespaces = 0", "sudo sysctl -w user.max_user_namespaces="} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("the command ran")
		}
	})
}

// TestNoUserNamespacesRunsUnderLandlock: with no CORDON_BACKEND, a
// machine without user namespaces gets the Landlock + seccomp backend,
// chosen automatically: the command runs, a write outside the workspace
// is refused, and cordon doctor names the backend, why it runs, and what
// it holds less well than bwrap.
func TestNoUserNamespacesRunsUnderLandlock(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		marker := filepath.Join(e.ws, "ran")
		outside := filepath.Join(filepath.Dir(e.ws), "outside")
		r := e.noUserns("run", "--", "sh", "-c", "touch "+marker+"; touch "+outside+"; echo done")
		if r.code != 0 || !strings.Contains(r.stdout, "done") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("the command did not run: %v", err)
		}
		if _, err := os.Stat(outside); err == nil {
			t.Errorf("a file was made outside the workspace")
		}
		if !strings.Contains(r.stderr, "cordon: blocked write "+outside) {
			t.Errorf("the refused write is not reported:\n%s", r.stderr)
		}
		d := e.noUserns("doctor")
		for _, want := range []string{"in force         Landlock ABI ", "+ seccomp (no user namespaces: user.max_user_namespaces = 0)", "weaker           host processes are visible in /proc"} {
			if !strings.Contains(d.stdout, want) {
				t.Errorf("doctor does not say %q:\n%s", want, d.stdout)
			}
		}
		if d.code != 0 {
			t.Errorf("doctor: exit %d (the Landlock backend runs here)\n%s", d.code, d.stdout)
		}
	})
}
