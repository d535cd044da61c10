//go:build linux

package linux

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
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
	f.file(t, filepath.Join(f.root, "config/prod.env"))
	f.file(t, filepath.Join(f.root, "config/dev.env"))
	// A deny_read inside the workspace cannot be expressed without
	// mounts: refused, the rule named.
	p := f.load(t, "[filesystem]\ndeny_write = [\"config/prod.env\"]\ndeny_read = [\"secrets/token\"]\n")
	if _, err := PlanStandalone(p, StandaloneOptions{Guard: true}); err == nil || !strings.Contains(err.Error(), "secrets/token") || !strings.Contains(err.Error(), ".sandbox.toml:3") {
		t.Errorf("deny_read inside the workspace: want a refusal naming the rule, got %v", err)
	}
	p = f.load(t, "[filesystem]\ndeny_write = [\"config/prod.env\"]\ndeny_read = [\"~/.config/x\"]\n")
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
	protected := ws(".git/hooks/pre-commit", ".git/config", ".git/hooks", "src/.vscode/settings.json", "config/prod.env", ".vscode", ".envrc", ".sandbox.toml")
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
	if !slices.Contains(r.ReadDeny, filepath.Join(f.home, ".ssh")) {
		t.Errorf("read denials: %v", r.ReadDeny)
	}
	if !slices.Contains(r.ReadAllow, st.TempDir) || !strings.HasPrefix(st.TempDir, f.dirs.StateDir) {
		t.Errorf("temp dir %s not readable again inside the state dir: %v", st.TempDir, r.ReadAllow)
	}
	if !r.Require || !r.Scope {
		t.Errorf("rules not required or not scoped: %+v", r)
	}
}

// TestStandaloneZones: a deny_write glob makes its base a file zone
// (existing files writable, no name made but by the supervisor), the
// existing matches are not granted at all, and without the supervisor the
// plan is refused with the rule named.
func TestStandaloneZones(t *testing.T) {
	f := newPlanFixture(t)
	p := f.load(t, "[filesystem]\ndeny_write = [\"keys/*.pem\"]\n")
	st, err := PlanStandalone(p, StandaloneOptions{Guard: true})
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(f.root, "keys")
	if !slices.Contains(st.GuardDirs, keys) || !slices.Contains(st.Rules.FileZones, filepath.Join(keys, "sub")) {
		t.Errorf("keys should be split and keys/sub a file zone: guard %v, zones %v", st.GuardDirs, st.Rules.FileZones)
	}
	for _, g := range append(append(append([]string{}, st.Rules.SplitDirs...), st.Rules.SplitFiles...), st.Rules.FileZones...) {
		if supervisor.Within(keys, g) && strings.HasSuffix(g, ".pem") {
			t.Errorf("an existing match is granted: %s", g)
		}
		if supervisor.Within(g, keys) {
			t.Errorf("the glob's base is granted whole by %s", g)
		}
	}
	_, err = PlanStandalone(p, StandaloneOptions{Guard: false})
	if err == nil || !strings.Contains(err.Error(), "keys/*.pem") || !strings.Contains(err.Error(), ".sandbox.toml:2") {
		t.Errorf("without the supervisor: want the rule named, got %v", err)
	}
	// Even with no rule of the workspace's, the protected names need the
	// supervisor: refused without it, never run with less.
	p = f.load(t, "")
	if _, err := PlanStandalone(p, StandaloneOptions{Guard: false}); err == nil || !strings.Contains(err.Error(), "protected") {
		t.Errorf("protected names without the supervisor: %v", err)
	}
}

// TestStandaloneEnv: the private temp dir and the redirected caches win
// over the caller's variables; secrets are scrubbed as under bwrap.
func TestStandaloneEnv(t *testing.T) {
	f := newPlanFixture(t)
	t.Setenv("XDG_CACHE_HOME", "")
	p := f.load(t, "")
	st, err := PlanStandalone(p, StandaloneOptions{Guard: true})
	if err != nil {
		t.Fatal(err)
	}
	env := st.CommandEnv([]string{"GOCACHE=/host/cache", "TMPDIR=/tmp", "GITHUB_TOKEN=x", "PATH=/bin"}, p)
	get := func(k string) []string {
		var out []string
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				out = append(out, kv[len(k)+1:])
			}
		}
		return out
	}
	for k, want := range map[string]string{
		"TMPDIR":           st.TempDir,
		"GOCACHE":          filepath.Join(f.dirs.StateDir, "caches", shortHash(p.Root), "xdg-cache", "go-build"),
		"XDG_CACHE_HOME":   filepath.Join(f.dirs.StateDir, "caches", shortHash(p.Root), "xdg-cache"),
		"npm_config_cache": filepath.Join(f.dirs.StateDir, "caches", shortHash(p.Root), ".npm"),
		"GOMODCACHE":       filepath.Join(f.dirs.StateDir, "caches", shortHash(p.Root), "go-pkg", "mod"),
		"PATH":             "/bin",
	} {
		if got := get(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want [%s]", k, got, want)
		}
	}
	if got := get("GITHUB_TOKEN"); len(got) != 0 {
		t.Errorf("a secret passed: %v", got)
	}
	for _, c := range st.Caches {
		if !slices.Contains(st.Rules.SplitDirs, c.Dir) || !slices.Contains(st.Judge.Writable, c.Dir) {
			t.Errorf("cache dir %s is not writable", c.Dir)
		}
		if !slices.Contains(st.Rules.ReadAllow, c.Dir) {
			t.Errorf("cache dir %s is not readable again inside the state dir", c.Dir)
		}
	}
	if !slices.Contains(st.ReadOnlyCaches, filepath.Join(f.home, ".cargo/registry")) {
		t.Errorf("cargo's cache should be listed read-only: %v", st.ReadOnlyCaches)
	}
}

// TestStandaloneLinkedHome: with $HOME named through a link (/home ->
// /var/home), the temp and cache dirs are granted at their real paths:
// the split rules follow no link, so granted by name they would grant
// nothing and TMPDIR would be unwritable.
func TestStandaloneLinkedHome(t *testing.T) {
	f := newPlanFixture(t)
	link := filepath.Join(filepath.Dir(f.home), "linked-home")
	if err := os.Symlink(f.home, link); err != nil {
		t.Fatal(err)
	}
	real := f.home
	f.home = link
	f.dirs = workspace.Dirs{Home: link, ConfigDir: filepath.Join(link, ".config/cordon"), StateDir: filepath.Join(link, ".local/state/cordon")}
	p := f.load(t, "")
	st, err := PlanStandalone(p, StandaloneOptions{Guard: true})
	if err != nil {
		t.Fatal(err)
	}
	wantTemp := filepath.Join(real, ".local/state/cordon/tmp", shortHash(p.Root))
	if !slices.Contains(st.Rules.SplitDirs, wantTemp) || !slices.Contains(st.Judge.Writable, wantTemp) || !slices.Contains(st.Rules.ReadAllow, wantTemp) {
		t.Errorf("temp dir not granted at its real path %s: %v", wantTemp, st.Rules.SplitDirs)
	}
	for _, d := range st.Rules.SplitDirs {
		if supervisor.Within(link, d) {
			t.Errorf("a split rule names a path through a link: %s", d)
		}
	}
}

// TestStandaloneLinkedWorkspace: a workspace folder named through a link
// is refused (its rules would name paths no real path carries), never
// planned with its protected paths missed.
func TestStandaloneLinkedWorkspace(t *testing.T) {
	f := newPlanFixture(t)
	link := filepath.Join(filepath.Dir(f.root), "ws-link")
	if err := os.Symlink(f.root, link); err != nil {
		t.Fatal(err)
	}
	p, err := workspace.Load(workspace.LoadOptions{Root: link, Dirs: f.dirs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PlanStandalone(p, StandaloneOptions{Guard: true}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a linked workspace folder: want a refusal, got %v", err)
	}
}

// TestStandaloneLinkedRule: a deny_write named through a link (~/proj ->
// /data/proj) into a writable place is refused with the rule named:
// planned at its name, it would be missed at the real path. The writable
// place named through the link plans, carved at its real path.
func TestStandaloneLinkedRule(t *testing.T) {
	f := newPlanFixture(t)
	proj := filepath.Join(filepath.Dir(f.home), "real-proj")
	f.file(t, filepath.Join(proj, ".git/hooks/pre-commit"))
	f.file(t, filepath.Join(proj, "x.env"))
	link := filepath.Join(f.home, "proj")
	if err := os.Symlink(proj, link); err != nil {
		t.Fatal(err)
	}
	p := f.load(t, "[filesystem]\nallow_write = [\""+link+"\"]\ndeny_write = [\""+link+"/x.env\"]\n")
	if _, err := PlanStandalone(p, StandaloneOptions{Guard: true}); err == nil || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), ".sandbox.toml:3") {
		t.Errorf("deny_write through a link: want a refusal naming the rule, got %v", err)
	}
	p = f.load(t, "[filesystem]\nallow_write = [\""+link+"\"]\n")
	st, err := PlanStandalone(p, StandaloneOptions{Guard: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.GuardDirs, proj) || !slices.Contains(st.Judge.ReadOnly, filepath.Join(proj, ".git/hooks")) {
		t.Errorf("the real place is not carved around its hooks: guard %v", st.GuardDirs)
	}
}
