package darwin

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/workspace"
)

var update = flag.Bool("update", false, "rewrite testdata/seatbelt/*.sb from the generator's output")

var testDirs = workspace.Dirs{Home: "/Users/dev", ConfigDir: "/Users/dev/.config/cordon", StateDir: "/Users/dev/.local/state/cordon"}

// testPolicy builds the merged policy of the built-in defaults and one
// trusted workspace file (none for ""), as workspace.Load would, without
// reading the user's machine.
func testPolicy(t *testing.T, file, root string) *workspace.Policy {
	t.Helper()
	p := &workspace.Policy{
		Root: root, Folders: []string{root}, Home: testDirs.Home,
		File: filepath.Join(root, ".sandbox.toml"), UserFile: testDirs.UserFile(),
		StateDir: testDirs.StateDir, ConfigDir: testDirs.ConfigDir, Trusted: true,
	}
	for _, c := range workspace.CredentialPaths(testDirs) {
		p.Filesystem.DenyRead = append(p.Filesystem.DenyRead, workspace.PathRule{Pattern: c, Path: c})
	}
	if file == "" {
		return p
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := workspace.Parse(p.File, data, testDirs, root)
	if err != nil {
		t.Fatal(err)
	}
	fs := &p.Filesystem
	fs.AllowWrite = append(fs.AllowWrite, f.Filesystem.AllowWrite...)
	fs.DenyWrite = append(fs.DenyWrite, f.Filesystem.DenyWrite...)
	fs.DenyRead = append(fs.DenyRead, f.Filesystem.DenyRead...)
	fs.AllowRead = append(fs.AllowRead, f.Filesystem.AllowRead...)
	p.Network = f.Network
	p.Env = f.Env
	return p
}

type profileCase struct {
	name, file, root string
	found            Found
}

func profileCases(t *testing.T) []profileCase {
	const root = "/Users/dev/proj"
	cases := []profileCase{
		{name: "defaults", root: root, found: Found{GitDirs: []string{root + "/.git"}}},
		{name: "defaults-no-git", root: root},
		// /tmp is /private/tmp on macOS, and a workspace root arrives with
		// its symlinks resolved.
		{name: "private-tmp", root: "/private/tmp/proj", found: Found{GitDirs: []string{"/private/tmp/proj/.git"}}},
		// A worktree: its .git file is read-only, its gitdir's hooks and
		// config protected; protected names found deeper too.
		{name: "worktree", root: root, found: Found{
			GitDirs:   []string{"/Users/dev/main/.git/worktrees/proj"},
			GitFiles:  []string{root + "/.git"},
			Protected: []string{root + "/web/.vscode", root + "/tools/.envrc"},
		}},
		// Every character SBPL strings and regexes treat specially, in
		// the workspace root itself, under glob rules. (A root holding a
		// glob metacharacter of its own, "\\" "*" "?" "[", is read as
		// part of the pattern by workspace's model, on Linux too.)
		{name: "odd-root", file: "../../testdata/policies/valid/globs.toml", root: "/Users/dev/we\"ird (x) |é|+{1}^\nline$.d"},
		{name: "odd-root-backslash", root: "/Users/dev/back\\slash \"q\"", found: Found{GitDirs: []string{"/Users/dev/back\\slash \"q\"/.git"}}},
	}
	files, _ := filepath.Glob("../../testdata/policies/valid/*.toml")
	if len(files) < 4 {
		t.Fatalf("sample policies: %v", files)
	}
	for _, f := range files {
		cases = append(cases, profileCase{name: strings.TrimSuffix(filepath.Base(f), ".toml"), file: f, root: root,
			found: Found{GitDirs: []string{root + "/.git"}}})
	}
	return cases
}

func caseProfile(t *testing.T, c profileCase) string {
	t.Helper()
	p := testPolicy(t, c.file, c.root)
	in := Input{
		Policy: p, Tag: "cordon-run-0123456789abcdef",
		TempDir:   "/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/cordon-501/tmp-4f2a9c1b",
		CacheDir:  "/Users/dev/Library/Caches/cordon/ws-4f2a9c1b",
		ProxyPort: 49152, MirrorPorts: testMirrorPorts(p), Found: c.found,
	}
	text, err := Profile(in)
	if err != nil {
		t.Fatalf("Profile: %v", err)
	}
	return text
}

// The profile of every sample policy, and of the cases above, is the
// golden file byte for byte, and reads back as a well-formed profile.
func TestGoldenProfiles(t *testing.T) {
	for _, c := range profileCases(t) {
		t.Run(c.name, func(t *testing.T) {
			text := caseProfile(t, c)
			if _, err := checkProfile(text); err != nil {
				t.Fatalf("generated profile does not read back: %v\n%s", err, text)
			}
			golden := filepath.Join("../../testdata/seatbelt", c.name+".sb")
			if *update {
				if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sandbox/darwin -update, then review the diff by hand)", err)
			}
			if text != string(want) {
				t.Errorf("profile differs from %s (go test -update rewrites it; review the diff):\n%s", golden, diffLines(string(want), text))
			}
		})
	}
}

// Each golden file belongs to a case: a renamed policy leaves no stale
// golden behind.
func TestGoldenFilesHaveCases(t *testing.T) {
	names := map[string]bool{}
	for _, c := range profileCases(t) {
		names[c.name+".sb"] = true
	}
	files, _ := filepath.Glob("../../testdata/seatbelt/*.sb")
	for _, f := range files {
		if !names[filepath.Base(f)] {
			t.Errorf("%s has no case", f)
		}
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return "(same lines)"
}

// testMirrorPorts are the localhost:PORT rules' ports, as the runner
// hands them to the backend.
func testMirrorPorts(p *workspace.Policy) []int {
	var ports []int
	for _, r := range p.Network.Allow {
		if r.Host == "localhost" && r.Port > 0 {
			ports = append(ports, r.Port)
		}
	}
	return ports
}
