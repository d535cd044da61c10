//go:build linux

package linux

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"github.com/cordon-dev/cordon/workspace"
)

// TestCancelDuringSetUp: a cancel at any moment of the set-up (here from
// the moment Start returns to well after the command started) ends the
// run at once, and nothing of it survives: a kill that lands on bwrap
// while it is still making the sandbox must not leave the sandbox's own
// init running the command to its end.
//
// The backend runs in this test process, as whoever runs the tests (root
// in CI): the kill path is the same for every user.
func TestCancelDuringSetUp(t *testing.T) {
	base := sandboxtest.Dir(t, nil)
	ws, home := filepath.Join(base, "ws"), filepath.Join(base, "home")
	os.MkdirAll(ws, 0o755)
	os.MkdirAll(home, 0o755)
	dirs := workspace.Dirs{Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon")}
	p, err := workspace.Load(workspace.LoadOptions{Root: ws, Dirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	secs := sandboxtest.Marker(4)
	b := New(Options{})
	for i := 0; i < 40; i++ {
		delay := time.Duration(i%20) * time.Millisecond / 2
		ctx, cancel := context.WithCancel(context.Background())
		proc, err := b.Start(ctx, sandbox.Spec{Policy: p, Argv: []string{"sleep", secs}, Env: os.Environ()})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(delay)
		cancel()
		start := time.Now()
		done := make(chan struct{})
		go func() { _, _ = proc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("cancelled %v after Start: the run did not end (%d sleeps alive)", delay, len(sandboxtest.Procs("sleep", secs)))
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cancelled %v after Start: the run ended only after %v", delay, d)
		}
		if !eventually(2*time.Second, func() bool { return len(sandboxtest.Procs("sleep", secs)) == 0 }) {
			t.Fatalf("cancelled %v after Start: the command outlived its run", delay)
		}
	}
}
