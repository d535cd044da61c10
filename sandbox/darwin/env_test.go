package darwin

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/workspace"
)

func TestCommandEnv(t *testing.T) {
	p := testPolicy(t, "../../testdata/policies/valid/design-example.toml", "/Users/dev/proj")
	base := []string{"PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=x", "NPM_TOKEN=t", "GOCACHE=/host/cache", "TMPDIR=/host/tmp", "-bad=1", "HOME=/Users/dev"}
	env := CommandEnv(base, p, "/private/var/folders/x/T/cordon-501/tmp-1", "/Users/dev/Library/Caches/cordon/ws-1", 49152, "/usr/local/bin/cordon")
	has := func(kv string) bool { return slices.Contains(env, kv) }
	for _, want := range []string{"PATH=/usr/bin", "HOME=/Users/dev", "NPM_TOKEN=t", "CI=1",
		"TMPDIR=/private/var/folders/x/T/cordon-501/tmp-1/", "GOCACHE=/Users/dev/Library/Caches/cordon/ws-1/go-build",
		"npm_config_cache=/Users/dev/Library/Caches/cordon/ws-1/npm", "HTTPS_PROXY=http://127.0.0.1:49152", "CORDON_PROXY=127.0.0.1:49152"} {
		if !has(want) {
			t.Errorf("missing %s in %q", want, env)
		}
	}
	for _, gone := range []string{"AWS_SECRET_ACCESS_KEY=x", "GOCACHE=/host/cache", "TMPDIR=/host/tmp", "-bad=1"} {
		if has(gone) {
			t.Errorf("%s passed", gone)
		}
	}
}

// The command's environment is applied inside the sandbox by env(1): the
// host-side sandbox-exec gets none of it.
func TestArgv(t *testing.T) {
	argv, err := Argv("(version 1)", []string{"A=1", "LD_X=y"}, []string{"make", "-j4"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{SandboxExec, "-p", "(version 1)", "/usr/bin/env", "-i", "A=1", "LD_X=y", "make", "-j4"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv %q", argv)
	}
	if !slices.Equal(hostEnv, []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C"}) {
		t.Errorf("host env %q", hostEnv)
	}
	for _, bad := range [][]string{nil, {""}, {"a=b"}, {"ls", "a\x00b"}} {
		if _, err := Argv("(version 1)", nil, bad); err == nil {
			t.Errorf("Argv(%q) accepted", bad)
		}
	}
}

// Survey on a real tree: git dirs and files, protected names deeper down,
// and symlinked denied paths resolved.
func TestSurvey(t *testing.T) {
	root := t.TempDir()
	root, _ = filepath.EvalSymlinks(root)
	ws := filepath.Join(root, "ws")
	other := filepath.Join(root, "main", ".git", "worktrees", "ws")
	for _, d := range []string{ws + "/web/.vscode", ws + "/vendor/lib/.git/hooks", other, root + "/real-env"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ws+"/.git", "gitdir: "+other+"\n")
	write(other+"/commondir", "../..\n")
	os.MkdirAll(ws+"/tools", 0o755)
	write(ws+"/tools/.envrc", "x")
	os.MkdirAll(ws+"/node_modules/x", 0o755)
	write(ws+"/node_modules/x/.bashrc", "x")
	if err := os.Symlink(root+"/real-env", ws+"/.env"); err != nil {
		t.Fatal(err)
	}
	p := &workspace.Policy{Root: ws, Folders: []string{ws}, Home: root + "/home"}
	p.Filesystem.DenyWrite = []workspace.PathRule{{Pattern: ".env", Path: ws + "/.env"}, {Pattern: "conf/x", Path: ws + "/conf/x"}}
	f := Survey(p)
	check := func(what string, got []string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %q lacks %s", what, got, w)
			}
		}
	}
	check("git dirs", f.GitDirs, other, filepath.Join(root, "main", ".git"), ws+"/vendor/lib/.git")
	check("git files", f.GitFiles, ws+"/.git")
	check("protected", f.Protected, ws+"/web/.vscode", ws+"/tools/.envrc", ws+"/node_modules/x/.bashrc")
	check("resolved", f.Resolved, root+"/real-env")
	if err := os.Symlink(root+"/real-env", ws+"/conf"); err != nil {
		t.Fatal(err)
	}
	f = Survey(p)
	check("resolved", f.Resolved, root+"/real-env/x")
	for _, r := range f.Protected {
		if strings.HasPrefix(r, ws+"/.git") || filepath.Dir(r) == ws {
			t.Errorf("protected %s is a top-level name or inside .git", r)
		}
	}
}
