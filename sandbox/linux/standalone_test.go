//go:build linux

package linux

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/supervisor"
)

// TestStandaloneCarving: the workspace is split along the way to every
// protected path. The hierarchies that hold none are granted whole, the
// existing files directly in a split directory are granted on their own,
// and nothing protected is granted at all, by any rule.
func TestStandaloneCarving(t *testing.T) {
	f := newPlanFixture(t)
	f.file(t, filepath.Join(f.root, "src/main.go"))
	f.file(t, filepath.Join(f.root, ".git/objects/ab/cdef"))
	f.file(t, filepath.Join(f.root, ".git/HEAD"))
	p := f.load(t, "[filesystem]\ndeny_write = [\"config/prod.env\"]\ndeny_read = [\"secrets/token\"]\n")
	f.file(t, filepath.Join(f.root, "config/prod.env"))
	f.file(t, filepath.Join(f.root, "config/dev.env"))
	p = f.load(t, "[filesystem]\ndeny_write = [\"config/prod.env\"]\ndeny_read = [\"secrets/token\"]\n")
	st, err := PlanStandalone(p, StandaloneOptions{Guard: true})
	if err != nil {
		t.Fatal(err)
	}
	ws := func(rel ...string) []string {
		var out []string
		for _, r := range rel {
			out = append(out, filepath.Join(f.root, r))
		}
		return out
	}
	r := st.Rules
	for _, want := range append(ws(".git/objects", "keys"), st.TempDir) {
		if !slices.Contains(r.SplitDirs, want) {
			t.Errorf("%s is not granted whole: %v", want, r.SplitDirs)
		}
	}
	for _, want := range ws("README", ".git/HEAD", "config/dev.env", ".sandbox.toml") {
		if slices.Contains(r.SplitFiles, want) != (want != filepath.Join(f.root, ".sandbox.toml")) {
			t.Errorf("file rule for %s: got %v in %v", want, slices.Contains(r.SplitFiles, want), r.SplitFiles)
		}
	}
	for _, want := range ws(".", ".git", "src", "config") {
		if !slices.Contains(st.GuardDirs, filepath.Clean(want)) {
			t.Errorf("%s is not a guard directory: %v", want, st.GuardDirs)
		}
	}
	// Nothing protected is granted, by a rule on it or on an ancestor.
	protected := ws(".git/hooks/pre-commit", ".git/config", ".git/hooks", "src/.vscode/settings.json", "config/prod.env", ".vscode", ".envrc", "secrets/token", ".sandbox.toml")
	for _, pr := range protected {
		for _, g := range append(append(append([]string{}, r.SplitDirs...), r.SplitFiles...), r.FileZones...) {
			if supervisor.Within(g, pr) {
				t.Errorf("protected %s is granted by the rule for %s", pr, g)
			}
		}
		if !st.Judge.Standalone || !slices.ContainsFunc(append(st.Judge.ReadOnly, st.Judge.Hidden...), func(x string) bool { return supervisor.Within(x, pr) }) {
			t.Errorf("the judge does not know %s is protected", pr)
		}
	}
	if !slices.Contains(r.ReadDeny, filepath.Join(f.root, "secrets/token")) || !slices.Contains(r.ReadDeny, filepath.Join(f.home, ".ssh")) {
		t.Errorf("read denials: %v", r.ReadDeny)
	}
	if !slices.Contains(r.ReadAllow, st.TempDir) || !strings.HasPrefix(st.TempDir, f.dirs.StateDir) {
		t.Errorf("temp dir %s not readable again inside the state dir: %v", st.TempDir, r.ReadAllow)
	}
	if !r.Require || !r.Scope {
		t.Errorf("rules not required or not scoped: %+v", r)
	}
}
