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
	e.wrap = []string{"unshare", "-U", "-r", "sh", "-c", `echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"`, "sh"}
	defer func() { e.wrap = nil }()
	r := e.cordon("", args...)
	if r.code == 99 {
		e.t.Fatalf("could not simulate a machine without user namespaces:\n%s", r.stderr)
	}
	return r
}

// TestNoUserNamespacesNamesTheFix: where bwrap cannot make its
// namespaces, the refusal (status 125, nothing run: TestSetupFailureIs125)
// says how to allow them on this machine, and cordon doctor says the same
// and that no layer is in force.
func TestNoUserNamespacesNamesTheFix(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		marker := filepath.Join(e.ws, "ran")
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
		d := e.noUserns("doctor")
		if d.code != 1 || !strings.Contains(d.stdout, "FAIL user namespaces") || !strings.Contains(d.stdout, "max_user_namespaces = 0") ||
			!strings.Contains(d.stdout, "in force         nothing") {
			t.Errorf("doctor: exit %d\n%s", d.code, d.stdout)
		}
	})
}
