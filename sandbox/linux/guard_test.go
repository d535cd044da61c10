//go:build linux

package linux

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"github.com/cordon-dev/cordon/workspace"
)

// TestGuardedRunsEndCleanly: runs whose names the guard makes end with
// the command's own status and their one violation, run after run on one
// Backend (see guardPool for why its threads never end).
func TestGuardedRunsEndCleanly(t *testing.T) {
	if os.Geteuid() != 0 {
		sandboxtest.Skip(t, "not root (CI runs as root; cmd/cordon's TestAttackDenyWriteNewNames runs the guard as a user too)")
	}
	base := sandboxtest.Dir(t, nil)
	ws, home := filepath.Join(base, "ws"), filepath.Join(base, "home")
	os.MkdirAll(ws, 0o755)
	os.MkdirAll(home, 0o755)
	os.WriteFile(filepath.Join(ws, ".sandbox.toml"), []byte("[filesystem]\ndeny_write = [\"*.pem\"]\n"), 0o644)
	dirs := workspace.Dirs{Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon")}
	p, err := workspace.Load(workspace.LoadOptions{Root: ws, Dirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	b := New(Options{})
	for i := 0; i < 12; i++ {
		proc, err := b.Start(context.Background(), sandbox.Spec{
			Policy: p, Argv: []string{"sh", "-c", "for i in $(seq 200); do : > f$i; done; rm -f f*; touch x.pem 2>/dev/null; exit 7"}, Env: os.Environ(),
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := wait(t, proc)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 7 || len(res.Violations) != 1 {
			t.Fatalf("run %d: exit %d, violations %+v", i, res.ExitCode, res.Violations)
		}
	}
}
