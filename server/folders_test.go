package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/server/runner"
)

// Every workspace folder is served with its own policy; a run gets the
// policy of the folder holding its cwd.
func TestFoldersAndCommands(t *testing.T) {
	e := newEnv(t)
	second := filepath.Join(filepath.Dir(e.root), "second")
	if err := os.MkdirAll(second, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.root, ".sandbox.toml"), "[network]\ndeny = [\"one.example\"]\n")
	writeFile(t, filepath.Join(second, ".sandbox.toml"), "[network]\ndeny = [\"two.example\"]\n")
	roots := make(chan string, 4)
	release := make(chan struct{})
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		p := req.Policy()
		if p.Root == second && !hasDeny(p, "two.example") || p.Root == e.root && !hasDeny(p, "one.example") {
			t.Errorf("run in %s got the policy of %s", req.Dir, p.Root)
		}
		roots <- p.Root
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &runner.Outcome{}, nil
	})
	c := startServer(t, e, exe, nil)
	if err := c.request("initialize", map[string]any{
		"rootUri":          "file:///nonexistent-fallback",
		"capabilities":     map[string]any{},
		"workspaceFolders": []map[string]any{{"uri": "file://" + e.root, "name": "one"}, {"uri": "file://" + second, "name": "two"}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	c.notify("initialized", map[string]any{})

	// Through executeCommand, for clients without custom methods.
	_, ch := c.send("workspace/executeCommand", map[string]any{"command": cmdRun, "arguments": []any{map[string]any{"command": "true", "cwd": second}}})
	if got := recv(t, roots, "run in the second folder"); got != second {
		t.Fatalf("run in the second folder used %s", got)
	}
	var st status
	if err := c.request("workspace/executeCommand", map[string]any{"command": cmdStatus}, &st); err != nil {
		t.Fatal(err)
	}
	if st.Root != e.root || len(st.Folders) != 2 || st.Folders[1].Root != second || len(st.Runs) != 1 || st.Runs[0].Cwd != second {
		t.Errorf("status %+v", st)
	}
	close(release)
	if r := c.wait(ch, 5*time.Second); r.Err() != nil {
		t.Fatal(r.Err())
	}
	if err := c.request("workspace/executeCommand", map[string]any{"command": cmdReload}, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) != 0 {
		t.Errorf("finished run still listed: %+v", st.Runs)
	}
	if err := c.request("workspace/executeCommand", map[string]any{"command": "cordon.nope"}, nil); code(err) == 0 {
		t.Error("unknown command accepted")
	}
	if err := c.request("sandbox/run", map[string]any{"command": "true", "cwd": e.root}, nil); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, roots, "run in the root folder"); got != e.root {
		t.Fatalf("run in the first folder used %s", got)
	}
}
