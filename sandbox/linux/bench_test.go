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

// BenchmarkLandlockLayer is what the Landlock layer under bwrap costs a
// run: `true` and a command making and removing 3,000 files, each with
// the layer and without it (the test switch), same session.
func BenchmarkLandlockLayer(b *testing.B) {
	base, _ := filepath.EvalSymlinks(b.TempDir())
	ws, home := filepath.Join(base, "ws"), filepath.Join(base, "home")
	os.MkdirAll(ws, 0o755)
	os.MkdirAll(filepath.Join(home, ".aws"), 0o755)
	p, err := workspace.Load(workspace.LoadOptions{Root: ws, Dirs: workspace.Dirs{
		Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon"),
	}})
	if err != nil {
		b.Fatal(err)
	}
	files := []string{"sh", "-c", "i=0; while [ $i -lt 3000 ]; do : > f$i; i=$((i+1)); done; rm -f f*"}
	for _, cmd := range []struct {
		name string
		argv []string
	}{{"true", []string{"true"}}, {"3000files", files}} {
		for _, layer := range []string{"landlock", "nolandlock"} {
			b.Run(cmd.name+"/"+layer, func(b *testing.B) {
				be := New(Options{})
				be.test.noLandlock = layer == "nolandlock"
				for b.Loop() {
					proc, err := be.Start(context.Background(), sandbox.Spec{Policy: p, Argv: cmd.argv, Env: os.Environ()})
					if err != nil {
						b.Fatal(err)
					}
					res, err := proc.Wait()
					if err != nil || res.ExitCode != 0 {
						b.Fatalf("%s: %v %+v", cmd.name, err, res)
					}
				}
			})
		}
	}
}
