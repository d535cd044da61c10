//go:build linux

package linux

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

func TestSmoke(t *testing.T) {
	home := t.TempDir()
	root := t.TempDir()
	d := workspace.Dirs{Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon")}
	pol, err := workspace.Load(workspace.LoadOptions{Root: root, Dirs: d})
	if err != nil {
		t.Fatal(err)
	}
	b := New(Options{Init: os.Args[0]})
	var out, errb bytes.Buffer
	pr, err := b.Start(context.Background(), sandbox.Spec{Policy: pol, Argv: []string{"sh", "-c", "echo hi > f; echo x > " + home + "/g; grep CapEff /proc/self/status; ls -la; exit 3"}, Env: os.Environ(), Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pr.Wait()
	t.Logf("res %+v err %v\nout %s\nerr %s", res, err, out.String(), errb.String())
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		t.Log("left:", e.Name())
	}
}
