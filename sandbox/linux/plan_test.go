//go:build linux

package linux

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type planFixture struct {
	root, home string
	dirs       workspace.Dirs
}

func newPlanFixture(t testing.TB) *planFixture {
	t.Helper()
	base, _ := filepath.EvalSymlinks(t.TempDir())
	f := &planFixture{root: filepath.Join(base, "ws"), home: filepath.Join(base, "home")}
	f.dirs = workspace.Dirs{Home: f.home, ConfigDir: filepath.Join(f.home, ".config/cordon"), StateDir: filepath.Join(f.home, ".local/state/cordon")}
	for _, p := range []string{"src/.vscode/settings.json", "secrets/token", "keys/a.pem", "keys/sub/b.pem", ".git/config", ".git/hooks/pre-commit", "README"} {
		f.file(t, filepath.Join(f.root, p))
	}
	f.file(t, filepath.Join(f.home, ".ssh/id_ed25519"))
	f.file(t, filepath.Join(f.home, ".aws/config"))
	f.file(t, filepath.Join(f.home, ".netrc"))
	return f
}

func (f *planFixture) file(t testing.TB, p string) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *planFixture) load(t testing.TB, policy string) *workspace.Policy {
	t.Helper()
	os.WriteFile(filepath.Join(f.root, ".sandbox.toml"), []byte(policy), 0o644)
	p, err := workspace.Load(workspace.LoadOptions{Root: f.root, Dirs: f.dirs})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Trusted {
		workspace.TrustStore{Dir: f.dirs.StateDir}.Trust(p.File, p.Hash)
		p, _ = workspace.Load(workspace.LoadOptions{Root: f.root, Dirs: f.dirs})
	}
	return p
}

const samplePolicy = `[filesystem]
deny_write = [".env", "keys/**/*.pem"]
deny_read = ["secrets", "~/.aws"]
allow_read = ["~/.aws/config"]
`

// TestGoldenArgs pins the bwrap argument list for a sample policy: every
// isolation flag, and the order that makes later binds cover earlier ones.
func TestGoldenArgs(t *testing.T) {
	f := newPlanFixture(t)
	p := f.load(t, samplePolicy)
	pl, err := buildPlan(p, "/run/cordon/tmp-private", scanner{})
	if err != nil {
		t.Fatal(err)
	}
	args := bwrapArgs(pl, argvOptions{Dir: f.root, Init: "/usr/bin/cordon", Hidden: "/run/cordon/hidden", Runtime: "/run/cordon", InitConfig: "CFG", Argv: []string{"npm", "test"}})
	got := strings.ReplaceAll(strings.Join(args, "\n")+"\n", filepath.Dir(f.root), "$BASE")
	golden := filepath.Join("..", "..", "testdata", "bwrap", "sample.args")
	if *update {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("bwrap args changed (run with -update if intended):\n%s", got)
	}
}

func TestPlanCoversRules(t *testing.T) {
	f := newPlanFixture(t)
	p := f.load(t, samplePolicy)
	pl, err := buildPlan(p, "/tmp/x", scanner{})
	if err != nil {
		t.Fatal(err)
	}
	has := func(list []string, p string) bool { return contains(list, filepath.Join(f.root, p)) }
	for _, p := range []string{"keys/a.pem", "keys/sub/b.pem", ".git/config", ".git/hooks", "src/.vscode", ".sandbox.toml"} {
		if !has(pl.ReadOnly, p) {
			t.Errorf("%s not read-only: %v", p, pl.ReadOnly)
		}
	}
	if !has(pl.HiddenDirs, "secrets") || !contains(pl.HiddenDirs, filepath.Join(f.home, ".aws")) || !contains(pl.HiddenDirs, filepath.Join(f.home, ".ssh")) {
		t.Errorf("hidden dirs: %v", pl.HiddenDirs)
	}
	if !contains(pl.HiddenFiles, filepath.Join(f.home, ".netrc")) || !contains(pl.Reopened, filepath.Join(f.home, ".aws/config")) {
		t.Errorf("hidden files %v reopened %v", pl.HiddenFiles, pl.Reopened)
	}
	// ".env" has no slash: it holds at any depth, so the guard refuses
	// making it anywhere (no placeholder at the root alone).
	guardsEnv := false
	for _, r := range pl.Guarded {
		guardsEnv = guardsEnv || r.Path == filepath.Join(f.root, "**/.env")
	}
	if !guardsEnv {
		t.Errorf(".env not guarded at any depth: %v", pl.Guarded)
	}
	// Missing protected names are the guard's, and nothing is bound for
	// them: a bind needs a placeholder on the host, which would show in
	// the workspace while the run lives.
	for _, m := range []string{".envrc", ".vscode", ".claude"} {
		path, guarded := filepath.Join(f.root, m), false
		for _, r := range pl.Guarded {
			guarded = guarded || r.Path == path
		}
		if !guarded || !contains(pl.Missing, path) {
			t.Errorf("missing %s not guarded: missing %v, guarded %v", m, pl.Missing, pl.Guarded)
		}
		if contains(pl.ReadOnly, path) {
			t.Errorf("missing %s bound read-only (a placeholder): %v", m, pl.ReadOnly)
		}
	}
}

// makeTree builds n files in a realistic shape: 100 files per directory,
// ten directories per level.
func makeTree(b *testing.B, root string, n int) {
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, fmt.Sprintf("d%d", i/1000), fmt.Sprintf("e%d", (i/100)%10))
		if i%100 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// twentyGlobs are rules of the shapes people write.
func twentyGlobs() string {
	rules := []string{"**/*.pem", "**/*.key", "secrets/**", "*.env", ".env.*", "**/id_rsa*", "config/*.secret",
		"d1/**/*.bak", "**/credentials*.json", "d2/e3/*.tmp", "**/*.p12", "**/.npmrc", "d5/**", "**/*.kdbx",
		"private/**", "**/token*", "d9/e9/f9*", "**/*.sqlite", "logs/**/*.log", "**/.htpasswd"}
	return `[filesystem]
deny_write = ["` + strings.Join(rules[:10], `", "`) + `"]
deny_read = ["` + strings.Join(rules[10:], `", "`) + `"]
`
}

func benchPolicyBuild(b *testing.B, warm bool) {
	f := newPlanFixture(b)
	makeTree(b, f.root, 100_000)
	p := f.load(b, twentyGlobs())
	cache := b.TempDir()
	if warm {
		if _, err := buildPlan(p, "/tmp/x", scanner{cacheDir: cache}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		sc := scanner{cacheDir: cache}
		if !warm {
			sc.cacheDir = ""
		}
		if _, err := buildPlan(p, "/tmp/x", sc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPolicyBuildCold: 100,000 files, 20 glob rules, no cache (target ≤ 300 ms).
func BenchmarkPolicyBuildCold(b *testing.B) { benchPolicyBuild(b, false) }

// BenchmarkPolicyBuildWarm: the same with the scan cache valid (target ≤ 2 ms).
func BenchmarkPolicyBuildWarm(b *testing.B) { benchPolicyBuild(b, true) }

// TestPlanCordonDirs: cordon's config and state directories are never
// writable, whatever allow_write says, and never creatable, even with
// no deny_read rule naming them (the credential set names them today;
// this holds should it not); their ancestors in a writable place, $HOME
// among them, cannot be renamed.
func TestPlanCordonDirs(t *testing.T) {
	base, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(base, "home")
	state := filepath.Join(home, ".local/state/cordon")
	config := filepath.Join(home, ".config/cordon") // missing
	os.MkdirAll(filepath.Join(state, "scan"), 0o700)
	os.MkdirAll(filepath.Join(home, ".config"), 0o755)
	p := &workspace.Policy{Root: filepath.Join(home, "ws"), Folders: []string{filepath.Join(home, "ws")}, Home: home, StateDir: state, ConfigDir: config}
	os.MkdirAll(p.Root, 0o755)
	p.Filesystem.AllowWrite = []workspace.PathRule{{Path: base}, {Path: filepath.Join(state, "scan")}}
	// The missing config dir as Load lists it (credential set); the state
	// dir left out of it, so that its read-only bind is this plan's own.
	p.Filesystem.DenyRead = []workspace.PathRule{{Path: config}}
	pl, err := buildPlan(p, "/tmp/x", scanner{})
	if err != nil {
		t.Fatal(err)
	}
	if !supervisor.UnderAny(state, pl.Writable) || contains(pl.Writable, filepath.Join(state, "scan")) {
		t.Errorf("writable %v: want the home's parent, not the state dir", pl.Writable)
	}
	if !contains(pl.ReadOnly, state) {
		t.Errorf("state dir not read-only: %v", pl.ReadOnly)
	}
	// A missing credential-set path is the guard's: it must not be made
	// from inside.
	guarded := false
	for _, r := range pl.Guarded {
		guarded = guarded || r.Path == config
	}
	if !guarded {
		t.Errorf("missing config dir not guarded: %v", pl.Guarded)
	}
	for _, d := range []string{home, filepath.Join(home, ".local"), filepath.Join(home, ".local/state")} {
		if !contains(pl.Pinned, d) {
			t.Errorf("%s not pinned: %v", d, pl.Pinned)
		}
	}
}

// TestPinsBoundFromDescriptors: pins are bound from descriptors opened
// beneath their writable root; a pinned directory swapped for a link to
// /etc after the plan (by another run) refuses the run instead of having
// bwrap bind /etc read-write.
func TestPinsBoundFromDescriptors(t *testing.T) {
	f := newPlanFixture(t)
	p := f.load(t, samplePolicy)
	pl, err := buildPlan(p, "/tmp/x", scanner{})
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(f.root, "keys")
	if !contains(pl.Pinned, keys) {
		t.Fatalf("keys not pinned: %v", pl.Pinned)
	}
	pins, err := openPins(pl)
	if err != nil {
		t.Fatal(err)
	}
	fds := map[string]int{}
	for i := range pins {
		fds[pl.Pinned[i]] = 10 + i
	}
	closeFiles(pins)
	args := strings.Join(bwrapArgs(pl, argvOptions{Dir: f.root, Init: "/init", PinFDs: fds}), " ")
	if !strings.Contains(args, "--bind-fd "+strconv.Itoa(fds[keys])+" "+keys+" ") || strings.Contains(args, "--bind "+keys+" ") {
		t.Errorf("keys not bound from its descriptor: %s", args)
	}
	os.Rename(keys, keys+".moved")
	os.Symlink("/etc", keys)
	if pins, err := openPins(pl); err == nil || !strings.Contains(err.Error(), "pinning "+keys+":") {
		closeFiles(pins)
		t.Fatalf("a pin swapped for a link to /etc was opened (%v)", err)
	}
}

// TestNestedWritableFromDescriptors: a writable place inside another is
// bound from a descriptor opened beneath the outer one; swapped for a
// link to /etc (by a run of another workspace, to which only the outer
// place is writable), it refuses the run.
func TestNestedWritableFromDescriptors(t *testing.T) {
	f := newPlanFixture(t)
	inner := filepath.Join(f.home, "inner")
	os.MkdirAll(inner, 0o755)
	p := f.load(t, "[filesystem]\nallow_write = [\"~\", \"~/inner\"]\n")
	pl, err := buildPlan(p, "/tmp/x", scanner{})
	if err != nil {
		t.Fatal(err)
	}
	nested, err := openNested(pl)
	if err != nil {
		t.Fatal(err)
	}
	fds := map[string]int{}
	for w, file := range nested {
		fds[w] = 20
		file.Close()
	}
	args := strings.Join(bwrapArgs(pl, argvOptions{Dir: f.root, Init: "/init", PinFDs: fds}), " ")
	if !strings.Contains(args, "--bind-fd 20 "+inner+" ") || strings.Contains(args, "--bind "+inner+" ") {
		t.Errorf("the nested writable place is not bound from its descriptor: %s", args)
	}
	os.Rename(inner, inner+".moved")
	os.Symlink("/etc", inner)
	if nested, err := openNested(pl); err == nil {
		for _, file := range nested {
			file.Close()
		}
		t.Fatal("a nested writable place swapped for a link to /etc was opened")
	}
}

// TestPlanProtectsEveryName: each of DESIGN's protected names, written
// out here (not workspace.ProtectedNames), is read-only where it exists
// below the workspace and covered where it is missing at the root. The
// attack tests in cmd/cordon try them for real; this is the quick check
// the mutation gate runs first.
func TestPlanProtectsEveryName(t *testing.T) {
	names := []string{".sandbox.toml", ".git/hooks", ".git/config", ".gitmodules", ".vscode", ".idea", ".nvim.lua",
		".nvimrc", ".exrc", ".envrc", ".mcp.json", ".claude", ".bashrc", ".bash_profile", ".profile", ".zshrc",
		".zprofile", ".gitconfig", ".ripgreprc"}
	f := newPlanFixture(t)
	for _, n := range names {
		switch n {
		case ".git/hooks", ".vscode", ".idea", ".claude":
			f.file(t, filepath.Join(f.root, "deep", n, "x"))
		default:
			f.file(t, filepath.Join(f.root, "deep", n))
		}
	}
	p := f.load(t, "")
	os.Remove(filepath.Join(f.root, ".sandbox.toml"))
	os.RemoveAll(filepath.Join(f.root, "src"))
	os.RemoveAll(filepath.Join(f.root, ".git/hooks"))
	os.Remove(filepath.Join(f.root, ".git/config"))
	pl, err := buildPlan(p, "/tmp/x", scanner{})
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, m := range pl.ReadOnly {
		covered[m] = true
	}
	for _, g := range pl.Guarded {
		covered[g.Path] = true
	}
	for _, n := range names {
		if deep := filepath.Join(f.root, "deep", n); !covered[deep] {
			t.Errorf("%s exists and is not read-only", deep)
		}
		if top := filepath.Join(f.root, n); !covered[top] {
			t.Errorf("%s is missing and not covered", top)
		}
	}
}

// TestPlanLinkedAllowWrite: an allow_write named through a link is bound
// at its target, and the protected paths found there are read-only: the
// scan looked under the real path, not under the name.
func TestPlanLinkedAllowWrite(t *testing.T) {
	f := newPlanFixture(t)
	proj := filepath.Join(filepath.Dir(f.home), "real-proj")
	f.file(t, filepath.Join(proj, ".git/hooks/pre-commit"))
	link := filepath.Join(f.home, "proj")
	if err := os.Symlink(proj, link); err != nil {
		t.Fatal(err)
	}
	p := f.load(t, "[filesystem]\nallow_write = [\""+link+"\"]\n")
	pl, err := buildPlan(p, t.TempDir(), scanner{})
	if err != nil {
		t.Fatal(err)
	}
	if !contains(pl.Writable, proj) || !contains(pl.ReadOnly, filepath.Join(proj, ".git/hooks")) {
		t.Errorf("writable %v, read-only %v: want %s writable and its .git/hooks read-only", pl.Writable, pl.ReadOnly, proj)
	}
}
