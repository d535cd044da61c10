//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	sh := `echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"`
	cmd := exec.Command("unshare", append([]string{"-U", "-r", "sh", "-c", sh, "sh", cordonBin}, args...)...)
	cmd.Dir, cmd.Env = e.ws, e.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if e.user != nil {
		cmd.SysProcAttr.Credential = e.user.Credential()
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("unshare: %v", err)
	}
	if code == 99 {
		e.t.Fatalf("could not simulate a machine without user namespaces:\n%s", errb.String())
	}
	return result{code, out.String(), errb.String()}
}

// TestNoUserNamespacesRefusesWithTheFix: where bwrap cannot make its
// namespaces, cordon run exits 125 with the reason and the fix, having
// run nothing (it used to pass bwrap's own status 1 on as the
// command's), and cordon doctor says why and that nothing is in force.
func TestNoUserNamespacesRefusesWithTheFix(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		marker := filepath.Join(e.ws, "ran")
		// Positive control: the same command runs where namespaces work.
		if r := e.cordon("", "run", "--", "touch", marker); r.code != 0 {
			t.Fatalf("control run: exit %d\n%s", r.code, r.stderr)
		}
		if err := os.Remove(marker); err != nil {
			t.Fatalf("the control run made nothing: %v", err)
		}
		r := e.noUserns("run", "--", "touch", marker)
		if r.code != 125 {
			t.Errorf("exit %d, want 125\n%s", r.code, r.stderr)
		}
		for _, want := range []string{"nothing was run", "max_user_namespaces = 0", "sysctl"} {
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
