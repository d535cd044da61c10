//go:build linux

package linux

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"github.com/cordon-dev/cordon/workspace"
)

// buildStageImage compiles the init stage's own program, as make build does.
func buildStageImage(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "cordon-init")
	cmd := exec.Command("go", "build", "-o", out, "./initimage/cordon-init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the init image: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStageImage: with an image, the stage runs from it (the cordon binary
// named by Init does not even exist), still installs the write observer,
// and the image is written to the state directory once and reused.
func TestStageImage(t *testing.T) {
	if os.Geteuid() != 0 {
		sandboxtest.Skip(t, "not root (CI runs as root; cmd/cordon's tests run the embedded image as a user too)")
	}
	image := buildStageImage(t)
	base := sandboxtest.Dir(t, nil)
	ws, home := filepath.Join(base, "ws"), filepath.Join(base, "home")
	os.MkdirAll(ws, 0o755)
	os.MkdirAll(home, 0o755)
	state := filepath.Join(home, ".local/state/cordon")
	p, err := workspace.Load(workspace.LoadOptions{Root: ws, Dirs: workspace.Dirs{
		Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: state,
	}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(b *Backend) *sandbox.Result {
		t.Helper()
		var out lockedBuffer
		proc, err := b.Start(context.Background(), sandbox.Spec{
			Policy: p, Argv: []string{"sh", "-c", "echo inside; touch ok /etc/cordon-image-test"}, Env: os.Environ(), Stdout: &out, Stderr: &out,
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := wait(t, proc)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "inside") {
			t.Fatalf("the command did not run: %+v %q", res, out.String())
		}
		return res
	}
	res := run(New(Options{Init: "/nonexistent/cordon", InitImage: image}))
	if res.ExitCode == 0 {
		t.Errorf("a write to /etc succeeded")
	}
	if len(res.Violations) != 1 || res.Violations[0].Target != "/etc/cordon-image-test" {
		t.Errorf("the observer did not report the write: %+v", res.Violations)
	}
	if _, err := os.Stat(filepath.Join(ws, "ok")); err != nil {
		t.Errorf("the workspace write was lost: %v", err)
	}

	files, _ := filepath.Glob(filepath.Join(state, "init", "cordon-init-*"))
	if len(files) != 1 {
		t.Fatalf("cached images: %v", files)
	}
	var first syscall.Stat_t
	if err := syscall.Stat(files[0], &first); err != nil {
		t.Fatal(err)
	}
	if first.Mode&0o777 != 0o500 {
		t.Errorf("cached image mode %o, want 500", first.Mode&0o777)
	}
	run(New(Options{Init: "/nonexistent/cordon", InitImage: image}))
	var again syscall.Stat_t
	if err := syscall.Stat(files[0], &again); err != nil || again.Ino != first.Ino {
		t.Errorf("the cached image was rewritten (%v)", err)
	}

	// A cached copy that is not what cordon wrote is replaced, not run.
	os.Chmod(files[0], 0o700)
	os.WriteFile(files[0], []byte("#!/bin/sh\necho tampered\n"), 0o700)
	run(New(Options{Init: "/nonexistent/cordon", InitImage: image}))
	if b, _ := os.ReadFile(files[0]); string(b) != image {
		t.Errorf("a tampered cached image was kept")
	}
}

// TestStageImageWithoutStateDir: no state directory, so a sealed memfd
// carries the image; it cannot be written once sealed.
func TestStageImageWithoutStateDir(t *testing.T) {
	f, err := sealedExecutable("cordon-init-test", "\x7fELF not really")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Errorf("a sealed image was writable")
	}
	if _, err := cachedImage("", "x", "image"); err == nil {
		t.Errorf("an image was cached without a state directory")
	}
	if _, err := cachedImage("relative/dir", "x", "image"); err == nil {
		t.Errorf("an image was cached in a relative directory")
	}
}
