//go:build linux

package linux

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"github.com/cordon-dev/cordon/workspace"
)

// policy replaces the workspace policy and trusts it (widenings such as
// allow_unix_sockets apply only to a trusted file).
func (e *launchEnv) policy(text string) {
	e.t.Helper()
	file := filepath.Join(e.ws, ".sandbox.toml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if e.user != nil {
		// The store is trusted only when it is the writer's own: write it
		// as ourselves (root, in CI), then hand it back.
		sandboxtest.Chown(e.t, e.home, sandboxtest.Self())
	}
	dirs := workspace.Dirs{Home: e.home, ConfigDir: filepath.Join(e.home, ".config/cordon"), StateDir: filepath.Join(e.home, ".local/state/cordon")}
	p, err := workspace.Load(workspace.LoadOptions{Root: e.ws, Dirs: dirs})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := (workspace.TrustStore{Dir: dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
		e.t.Fatal(err)
	}
	if e.user != nil {
		sandboxtest.Chown(e.t, e.home, e.user)
		sandboxtest.Chown(e.t, e.ws, e.user)
	}
}

// run launches argv and waits for it.
func (e *launchEnv) run(argv ...string) string {
	e.t.Helper()
	var out bytes.Buffer
	cmd := e.launch(&out, argv...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		e.t.Fatalf("run did not end: %s", out.String())
	}
	return out.String()
}

// unixClient connects to the socket given as its argument and sends a line.
const unixClient = `import socket, sys
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
except OSError as e:
    print("socket refused:", e.errno); sys.exit(0)
s.connect(sys.argv[1]); s.sendall(b"hello from inside\n"); print("sent")
`

// TestUnixSockets: AF_UNIX sockets are refused unless the policy names a
// socket; naming one lets the command reach it, and does not lift the
// other refusals.
func TestUnixSockets(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatalf("python3 is required for the socket client: %v", err)
	}
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		sock := filepath.Join(e.home, "agent.sock")
		got := sandboxtest.UnixServer(t, sock)

		if out := e.run("python3", "-c", unixClient, sock); !strings.Contains(out, "socket refused: 1") {
			t.Fatalf("AF_UNIX socket not refused with EPERM by default:\n%s", out)
		}
		select {
		case s := <-got:
			t.Fatalf("the host socket was reached without a rule: %q", s)
		default:
		}

		e.policy("[network]\nallow_unix_sockets = [\"" + sock + "\"]\n")
		out := e.run("sh", "-c", `python3 -c "$1" "$2"; python3 -c 'import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("1.1.1.1", 80)); print("REACHED")
except OSError as e: print("inet", e.errno)'`, "sh", unixClient, sock)
		if !strings.Contains(out, "sent") {
			t.Fatalf("allowed socket not reachable:\n%s", out)
		}
		select {
		case s := <-got:
			if s != "hello from inside\n" {
				t.Fatalf("host socket got %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the host socket received nothing")
		}
		if strings.Contains(out, "REACHED") {
			t.Fatalf("allowing a unix socket opened the network:\n%s", out)
		}
	})
}
