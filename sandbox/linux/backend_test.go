//go:build linux

package linux

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// launchEnv is a workspace and home for launcher runs, owned by the user
// the launcher runs as (nil: ourselves).
type launchEnv struct {
	t             *testing.T
	user          *sandboxtest.User
	bin, ws, home string
}

func newLaunchEnv(t *testing.T, u *sandboxtest.User) *launchEnv {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Fatalf("bubblewrap is required: %v", err)
	}
	base := sandboxtest.Dir(t, u)
	e := &launchEnv{t: t, user: u, ws: filepath.Join(base, "ws"), home: filepath.Join(base, "home")}
	for _, d := range []string{e.ws, e.home, filepath.Join(base, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.bin = sandboxtest.Executable(t, filepath.Join(base, "bin"))
	if err := os.WriteFile(filepath.Join(e.ws, ".sandbox.toml"), []byte("[filesystem]\ndeny_write = [\".env\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if u != nil {
		sandboxtest.Chown(t, base, u)
	}
	return e
}

// launch starts the launcher (detached, in its own session) on argv.
func (e *launchEnv) launch(out io.Writer, argv ...string) *exec.Cmd {
	e.t.Helper()
	args := append([]string{launchArg, e.ws, e.home, "--"}, argv...)
	var cmd *exec.Cmd
	if e.user != nil {
		cmd = e.user.Command(e.home, e.bin, args...)
	} else {
		cmd = exec.Command(e.bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+e.home)
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.Dir = e.ws
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	// Killed, not waited for: waitCmd may be waiting for it already, and
	// a second Wait alongside it would block for ever.
	e.t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// entries lists the workspace root.
func (e *launchEnv) entries() []string {
	ents, _ := os.ReadDir(e.ws)
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	sort.Strings(names)
	return names
}

// wait is proc.Wait with a deadline (sandboxtest.Wait).
func wait(t *testing.T, proc sandbox.Process) (*sandbox.Result, error) {
	t.Helper()
	var res *sandbox.Result
	var err error
	sandboxtest.Within(t, sandboxtest.Wait, "the end of the sandboxed command", func() { res, err = proc.Wait() })
	return res, err
}

// waitCmd is cmd.Wait with a deadline (sandboxtest.Wait).
func waitCmd(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	var err error
	sandboxtest.Within(t, sandboxtest.Wait, "the end of the launcher", func() { err = cmd.Wait() })
	return err
}

func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

func asRootAndUser(t *testing.T, f func(t *testing.T, u *sandboxtest.User)) {
	t.Run("root", func(t *testing.T) {
		sandboxtest.RequireRoot(t)
		f(t, nil)
	})
	t.Run("user", func(t *testing.T) { f(t, sandboxtest.Unprivileged(t)) })
}

// TestKilledLauncherLeavesNothing: a SIGKILLed launcher can clean nothing
// up itself; the run's processes must still die with it, and the
// workspace must hold what it held before.
func TestKilledLauncherLeavesNothing(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		secs := sandboxtest.Marker(1)
		var out bytes.Buffer
		cmd := e.launch(&out, "sh", "-c", "sleep "+secs+" & sleep "+secs)
		if !eventually(20*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 2 }) {
			t.Fatalf("the run never started: %s", out.String())
		}
		// Nothing was made on the host to enforce the policy (see
		// TestNothingShownWhileRunning), so nothing can be left behind.
		_ = cmd.Process.Kill()
		_ = waitCmd(t, cmd)
		if !eventually(10*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 0 }) {
			t.Fatalf("processes of the run outlived the killed launcher: %v", sandboxtest.Procs("sleep", secs))
		}
		if !eventually(10*time.Second, func() bool { return len(e.entries()) == 1 }) {
			t.Fatalf("left behind in the workspace after the launcher was killed: %v", e.entries())
		}
	})
}

// TestKilledRunKeepsOthersProtected: one run of a workspace is SIGKILLed
// while another lives on. Whatever the killed run's end does on the host
// must not unprotect the live run: it still cannot make the missing
// protected names, at any moment, and the last run out leaves nothing.
func TestKilledRunKeepsOthersProtected(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		secs := sandboxtest.Marker(2)
		var outA, outB bytes.Buffer
		a := e.launch(&outA, "sh", "-c", `while ! [ -e "$HOME/go" ]; do sleep 0.05; done
echo 'export PATH=/tmp/evil' > .envrc || echo refused .envrc
echo SECRET=1 > .env || echo refused .env
mkdir -p .vscode/x || echo refused .vscode
echo '{}' > .mcp.json || echo refused .mcp.json
echo attempted`)
		b := e.launch(&outB, "sh", "-c", "sleep "+secs)
		if !eventually(20*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 1 }) {
			t.Fatalf("run B never started: %s", outB.String())
		}
		_ = b.Process.Kill()
		_ = waitCmd(t, b)
		if !eventually(10*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 0 }) {
			t.Fatal("run B outlived its launcher")
		}
		time.Sleep(300 * time.Millisecond) // give a wrong clean-up its chance
		// Tell A to attack: $HOME is writable on the host side only.
		if err := os.WriteFile(filepath.Join(e.home, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := waitCmd(t, a); err != nil {
			t.Fatalf("run A: %v\n%s", err, outA.String())
		}
		if !strings.Contains(outA.String(), "attempted") {
			t.Fatalf("run A did not get to its attack:\n%s", outA.String())
		}
		for _, name := range []string{".envrc", ".env", ".vscode", ".mcp.json"} {
			if !strings.Contains(outA.String(), "refused "+name+"\n") {
				t.Errorf("run A made %s inside:\n%s", name, outA.String())
			}
			if _, err := os.Lstat(filepath.Join(e.ws, name)); err == nil {
				t.Errorf("%s made on the host from a run whose sibling was killed", name)
			}
		}
		if !eventually(10*time.Second, func() bool { return len(e.entries()) == 1 }) {
			t.Fatalf("left behind in the workspace: %v", e.entries())
		}
	})
}

// TestNothingShownWhileRunning checks invariant 7 while a run lives: the
// missing protected names (.envrc, .vscode/, .claude/, .bashrc, ...) are
// refused by the guard, so nothing of cordon's appears in the workspace
// root, neither listed from the host nor in git status. The run's own
// file does appear (positive control: the listing sees the live run).
func TestNothingShownWhileRunning(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required: %v", err)
	}
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		status := func() string {
			t.Helper()
			cmd := exec.Command("git", "-c", "safe.directory=*", "status", "--porcelain", "--untracked-files=all", "--ignored")
			cmd.Dir = e.ws
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git status: %v\n%s", err, out)
			}
			return string(out)
		}
		git := exec.Command("git", "-c", "safe.directory=*", "init", "-q")
		git.Dir = e.ws
		if out, err := git.CombinedOutput(); err != nil {
			t.Fatalf("git init: %v\n%s", err, out)
		}
		os.RemoveAll(filepath.Join(e.ws, ".git", "hooks")) // missing too: guarded, not covered
		if u != nil {
			sandboxtest.Chown(t, e.ws, u)
		}
		before, statusBefore := e.entries(), status()
		secs := sandboxtest.Marker(3)
		var out bytes.Buffer
		cmd := e.launch(&out, "sh", "-c", "echo mine > made.txt && exec sleep "+secs)
		if !eventually(20*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 1 }) {
			t.Fatalf("the run never started: %s", out.String())
		}
		during, statusDuring := e.entries(), status()
		want := append(append([]string{}, before...), "made.txt")
		sort.Strings(want)
		if strings.Join(during, " ") != strings.Join(want, " ") {
			t.Errorf("the workspace root while a run lives: %v, want %v", during, want)
		}
		if !sameLines(statusDuring, statusBefore+"?? made.txt\n") {
			t.Errorf("git status while a run lives:\n%s\nbefore it:\n%s", statusDuring, statusBefore)
		}
		if _, err := os.Lstat(filepath.Join(e.ws, ".git", "hooks")); err == nil {
			t.Errorf(".git/hooks made on the host while a run lives")
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = waitCmd(t, cmd)
	})
}

// sameLines reports whether a and b hold the same lines in any order.
func sameLines(a, b string) bool {
	la, lb := strings.Split(strings.TrimSpace(a), "\n"), strings.Split(strings.TrimSpace(b), "\n")
	sort.Strings(la)
	sort.Strings(lb)
	return strings.Join(la, "\n") == strings.Join(lb, "\n")
}
