// Package sandboxtest holds helpers for tests that run real sandboxes: an
// unprivileged account to run them as, directories that account owns, and
// a way to find the processes a run left behind.
package sandboxtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// UserName is the unprivileged account the tests run as.
const UserName = "cordontest"

// User is an account a test runs commands as.
type User struct {
	Name     string
	UID, GID int
}

// Credential makes a command run as u.
func (u *User) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), NoSetGroups: true}
}

// Self is the account the suite itself runs as (root in CI).
func Self() *User {
	name := strconv.Itoa(os.Geteuid())
	if cur, err := user.Current(); err == nil {
		name = cur.Username
	}
	return &User{Name: name, UID: os.Geteuid(), GID: os.Getegid()}
}

// Command is exec.Command run as u, with HOME set to home.
func (u *User) Command(home, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	cmd.Env = append(os.Environ(), "HOME="+home, "USER="+u.Name, "LOGNAME="+u.Name, "XDG_RUNTIME_DIR=")
	return cmd
}

// SkipLogVar names a file each skip of a sandbox test is appended to, so
// that a run can count them (testdata/scripts/skips.sh): a skipped attack
// test proves nothing, and must not pass silently.
const SkipLogVar = "CORDON_SKIP_LOG"

// Skip skips t for reason and records it in the skip log.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if log := os.Getenv(SkipLogVar); log != "" {
		if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), reason)
			f.Close()
		}
	}
	t.Skip(reason)
}

// RequireRoot skips the root half of a test when the suite runs as
// another user: that half needs root; the user half still runs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "not root: the root half is skipped (the user half runs)")
	}
}

// Unprivileged returns the account the user half of a test runs as: the
// test account (created when missing) when the suite runs as root, the
// suite's own user otherwise, so a suite run by an ordinary user still
// tests the sandbox for real.
func Unprivileged(t testing.TB) *User {
	t.Helper()
	if os.Geteuid() != 0 {
		return Self()
	}
	u, err := user.Lookup(UserName)
	if err != nil {
		out, aerr := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", UserName).CombinedOutput()
		// Another test package may have created it meanwhile: look again.
		if u, err = user.Lookup(UserName); err != nil {
			t.Fatalf("creating the test user %s: %v %s (%v)", UserName, aerr, out, err)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || uid == 0 {
		t.Fatalf("test user %s has uid %q gid %q", UserName, u.Uid, u.Gid)
	}
	return &User{Name: UserName, UID: uid, GID: gid}
}

// Dir makes a fresh directory, removed when the test ends, with its path
// resolved through symlinks (mount targets must be). With owner non-nil it
// lies under a directory the owner can traverse and belongs to the owner.
func Dir(t testing.TB, owner *User) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cordon-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		Chown(t, dir, owner)
	}
	return dir
}

// Chown gives everything below root to u. A suite run by an ordinary
// user owns what it makes and can give nothing away, so for it Chown to
// itself (Self, Unprivileged) has nothing to do; the walk would stop at
// directories it cannot read, such as an overlay's work directory.
func Chown(t testing.TB, root string, u *User) {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 && u.UID == euid {
		return
	}
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.UID, u.GID)
	})
	if err != nil {
		t.Fatalf("chown %s: %v", root, err)
	}
}

// Procs lists the pids of the processes whose command line is exactly
// argv: give the run's processes an unusual argument (a sleep of an odd
// length) so that nothing else matches.
func Procs(argv ...string) []int {
	var want []byte
	for _, a := range argv {
		want = append(append(want, a...), 0)
	}
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Equal(b, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Marker is a sleep duration (about two hours) no other process on the
// machine uses: its whole part is n, its fraction the test process's pid,
// so two test binaries running side by side (go test runs packages in
// parallel) never count each other's sleeps.
func Marker(n int) string {
	return fmt.Sprintf("%d.%07d", 7000+n, os.Getpid())
}

// Executable copies the running test binary into dir (mode 0755) so that
// another user can execute it as the sandbox's init: go test keeps its
// binaries in a directory only the invoking user can enter.
func Executable(t testing.TB, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(self))
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return dst
}

// Wait is the deadline of a test's waits for a sandboxed process: well
// inside the package timeout (make unit: 12 minutes), so a hang fails the
// test that hung, saying what it waited for.
const Wait = 2 * time.Minute

// Within runs wait (a blocking call: a process's Wait, a read) and fails
// t if it has not returned within d. A wait that missed its deadline is
// left behind; the test's clean-up kills what it waited on.
func Within(t testing.TB, d time.Duration, what string, wait func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not happen within %v", what, d)
	}
}

// UnixServer listens on a unix socket at path, connectable by anyone, and
// sends what each connection wrote on the channel; it stops with the test.
func UnixServer(t testing.TB, path string) <-chan string {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	os.Chmod(path, 0o777)
	got := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			c.Close()
			got <- string(b)
		}
	}()
	return got
}
