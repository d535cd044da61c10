package proxy

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"github.com/cordon-dev/cordon/workspace"
)

const helperEnv = "CORDON_PROXY_TEST_DIAL"

// TestHelperDial is not a test: run by TestOtherUserCannotReachSocket as
// another user, it dials the socket named in its environment.
func TestHelperDial(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		io.WriteString(os.Stdout, "dial: "+err.Error()+"\n")
		os.Exit(0)
	}
	c.Close()
	io.WriteString(os.Stdout, "connected\n")
	os.Exit(0)
}

// TestOtherUserCannotReachSocket: another local user must not be able to
// borrow a run's proxy (and its approvals): the socket sits in a 0700
// directory even when the parent directory is world-accessible.
func TestOtherUserCannotReachSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		sandboxtest.Skip(t, "not root: running the probe as another user needs root (CI runs it as root)")
	}
	// A world-readable place for both the socket directory's parent and a
	// copy of this test binary the other user can execute.
	shared, err := os.MkdirTemp("", "cordon-proxy-perm-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(shared, "probe.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}

	pol := &workspace.Policy{}
	s, err := NewSession(context.Background(), Config{Policy: func() *workspace.Policy { return pol }, Dir: shared})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	probe := func(cred *syscall.Credential) string {
		cmd := exec.Command(bin, "-test.run=^TestHelperDial$")
		cmd.Env = []string{helperEnv + "=" + s.SocketPath()}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out := probe(nil); out != "connected" {
		t.Fatalf("the owner cannot reach the socket: %s", out)
	}
	out := probe(&syscall.Credential{Uid: 65534, Gid: 65534})
	if !strings.Contains(out, "permission denied") {
		t.Fatalf("another user reached the socket: %s", out)
	}
}
