//go:build linux

package linux

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// BenchmarkStartTrue is `true` through the backend (plan, placeholders,
// seccomp, init stage; the test binary is the init) against bare
// `bwrap --ro-bind / / true`: the difference is what cordon adds per run.
func BenchmarkStartTrue(b *testing.B) {
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		b.Fatalf("bubblewrap is required: %v", err)
	}
	b.Run("bwrap", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command(bwrap, "--ro-bind", "/", "/", "true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backend", func(b *testing.B) {
		base, _ := filepath.EvalSymlinks(b.TempDir())
		ws, home := filepath.Join(base, "ws"), filepath.Join(base, "home")
		os.MkdirAll(ws, 0o755)
		os.MkdirAll(home, 0o755)
		p, err := workspace.Load(workspace.LoadOptions{Root: ws, Dirs: workspace.Dirs{
			Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon"),
		}})
		if err != nil {
			b.Fatal(err)
		}
		be := New(Options{})
		ctx := context.Background()
		for b.Loop() {
			proc, err := be.Start(ctx, sandbox.Spec{Policy: p, Argv: []string{"true"}, Env: os.Environ()})
			if err != nil {
				b.Fatal(err)
			}
			res, err := proc.Wait()
			if err != nil || res.ExitCode != 0 {
				b.Fatalf("true: %v %+v", err, res)
			}
		}
	})
}
