//go:build linux

package linux

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
)

// TestScanAgreesWithMatch: every path workspace.Match accepts is found,
// itself or through a matched directory above it, and nothing else is.
func TestScanAgreesWithMatch(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	var all []string
	for _, p := range []string{"a.pem", "x/b.pem", "x/y/c.pem", "x/y/d.txt", "secrets/t", "secrets/u/v", ".env",
		"src/.vscode/s.json", "n/.git/hooks/pre-commit", "k.pem/inner.txt", "logs/a/b.log", "logs/c.txt"} {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, nil, 0o644)
	}
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { all = append(all, p); return nil })
	patterns := []string{root + "/**/*.pem", root + "/secrets/**", root + "/*.env", root + "/.env", root + "/**/.vscode",
		root + "/**/.git/hooks", root + "/logs/**/*.log", root + "/x/*/d.txt", root + "/[a-c].pem"}
	res, err := walk(scanRequest{Roots: []string{root}, Patterns: patterns})
	if err != nil {
		t.Fatal(err)
	}
	for _, pat := range patterns {
		found := res.Matches[pat]
		for _, p := range all {
			want := workspace.Match(pat, p)
			covered := false
			for _, f := range found {
				covered = covered || supervisor.Within(f, p)
			}
			if want && !covered {
				t.Errorf("%s: %s matches but was not found (found %v)", pat, p, found)
			}
		}
		for _, f := range found {
			if !workspace.Match(pat, f) {
				t.Errorf("%s: found %s, which does not match", pat, f)
			}
		}
	}
}

func TestScanCacheInvalidates(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	os.MkdirAll(filepath.Join(root, "deep/er"), 0o755)
	sc := scanner{cacheDir: t.TempDir()}
	req := scanRequest{Roots: []string{root}, Patterns: []string{root + "/**/*.pem"}}
	if m, _ := sc.scan(req); len(m[req.Patterns[0]]) != 0 {
		t.Fatalf("matches in an empty tree: %v", m)
	}
	os.WriteFile(filepath.Join(root, "deep/er/new.pem"), nil, 0o644)
	if m, _ := sc.scan(req); len(m[req.Patterns[0]]) != 1 {
		t.Fatalf("a new file deep down was missed by the cache: %v", m)
	}
}

// TestScanCacheStampsUnforgeable: a directory's mtime set back after a
// file was added (what a sandboxed command can do with utimensat) does
// not make the cache hold.
func TestScanCacheStampsUnforgeable(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	conf := filepath.Join(root, "conf")
	os.MkdirAll(conf, 0o755)
	sc := scanner{cacheDir: t.TempDir()}
	req := scanRequest{Roots: []string{root}, Patterns: []string{root + "/**/*.key"}}
	if m, _ := sc.scan(req); len(m[req.Patterns[0]]) != 0 {
		t.Fatalf("matches in an empty tree: %v", m)
	}
	fi, _ := os.Stat(conf)
	os.WriteFile(filepath.Join(conf, "new.key"), nil, 0o644)
	if err := os.Chtimes(conf, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(conf); !after.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("control: mtime not set back")
	}
	if m, _ := sc.scan(req); len(m[req.Patterns[0]]) != 1 {
		t.Fatalf("a file added under a forged mtime was missed by the cache: %v", m)
	}
}
