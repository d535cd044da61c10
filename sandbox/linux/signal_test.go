//go:build linux

package linux

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"github.com/cordon-dev/cordon/workspace"
)

// lockedBuffer is written by a child's output copier while the test polls it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const trapScript = `trap 'echo got-signal; exit 3' INT TERM HUP; echo ready; while :; do sleep 0.05; done`

// TestSignalReachesCommand: Process.Signal delivers to the command inside
// the sandbox, which can handle it and clean up; the run then ends with
// the command's own status and nothing left.
func TestSignalReachesCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		sandboxtest.Skip(t, "not root (CI runs as root; the launcher variant covers users)")
	}
	base := sandboxtest.Dir(t, nil)
	ws, home := filepath.Join(base, "ws"), filepath.Join(base, "home")
	os.MkdirAll(ws, 0o755)
	os.MkdirAll(home, 0o755)
	p, err := workspace.Load(workspace.LoadOptions{Root: ws, Dirs: workspace.Dirs{
		Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		var out lockedBuffer
		proc, err := New(Options{}).Start(context.Background(), sandbox.Spec{
			Policy: p, Argv: []string{"sh", "-c", trapScript}, Env: os.Environ(), Stdout: &out,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !eventually(20*time.Second, func() bool { return strings.Contains(out.String(), "ready") }) {
			proc.Kill()
			t.Fatalf("never ready: %q", out.String())
		}
		if err := proc.Signal(sig); err != nil {
			t.Fatal(err)
		}
		res, err := wait(t, proc)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 3 || !strings.Contains(out.String(), "got-signal") {
			t.Errorf("%v: the command did not handle it: %+v %q", sig, res, out.String())
		}
	}
	// A command that does not handle the signal dies of it, with 128+N.
	proc, err := New(Options{}).Start(context.Background(), sandbox.Spec{Policy: p, Argv: []string{"sleep", "30"}, Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	proc.Signal(syscall.SIGTERM)
	if res, err := wait(t, proc); err != nil || res.ExitCode != 128+int(syscall.SIGTERM) {
		t.Errorf("unhandled SIGTERM: %+v %v", res, err)
	}
}

// TestSignalThroughLauncher: the same as an unprivileged user, whose
// launcher forwards SIGINT the way cordon run does; and an unhandled
// SIGTERM leaves no process of the run behind.
func TestSignalThroughLauncher(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		var out lockedBuffer
		cmd := e.launch(&out, "sh", "-c", trapScript)
		if !eventually(20*time.Second, func() bool { return strings.Contains(out.String(), "ready") }) {
			t.Fatalf("never ready: %q", out.String())
		}
		cmd.Process.Signal(syscall.SIGINT)
		err := waitCmd(t, cmd)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out.String(), "got-signal") {
			t.Errorf("SIGINT not handled by the command: %v %q", err, out.String())
		}

		secs := sandboxtest.Marker(3)
		var out2 lockedBuffer
		cmd = e.launch(&out2, "sh", "-c", "sleep "+secs+" & sleep "+secs)
		if !eventually(20*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 2 }) {
			t.Fatalf("never started: %q", out2.String())
		}
		cmd.Process.Signal(syscall.SIGTERM)
		_ = waitCmd(t, cmd)
		if !eventually(10*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 0 }) {
			t.Fatalf("processes of the run outlived SIGTERM: %v", sandboxtest.Procs("sleep", secs))
		}
	})
}
