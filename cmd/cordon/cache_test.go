package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// treeHash is a digest of everything below root: names, modes, sizes,
// contents and link targets, so "byte for byte unchanged" can be checked.
func treeHash(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", strings.TrimPrefix(p, root), fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			fh := sha256.New()
			_, err = io.Copy(fh, f)
			f.Close()
			if err != nil {
				return err
			}
			line += " " + hex.EncodeToString(fh.Sum(nil))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(lines)
	h.Write([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h.Sum(nil))
}

// cacheEnv is an isolated user whose home holds caches a real toolchain
// made, and whose defaults allow the registries (no trust needed there).
func cacheEnv(t *testing.T, e *env) (caches []string) {
	t.Helper()
	for _, d := range []string{".npm/_cacache", ".cache/go-build", ".cache/pip", "go/pkg/mod/cache/download", ".config/cordon"} {
		if err := os.MkdirAll(filepath.Join(e.home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{".npm/_cacache/index", ".cache/go-build/README", ".cache/pip/selfcheck.json", "go/pkg/mod/cache/download/marker"} {
		if err := os.WriteFile(filepath.Join(e.home, f), []byte("host cache "+f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	policy := `[network]
allow = ["registry.npmjs.org:443", "proxy.golang.org:443", "sum.golang.org:443", "storage.googleapis.com:443"]
`
	if err := os.WriteFile(filepath.Join(e.home, ".config/cordon/sandbox.toml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	e.chown()
	e.extra = append(e.extra, "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOPROXY=https://proxy.golang.org", "GOPATH="+filepath.Join(e.home, "go"),
		"npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	return []string{filepath.Join(e.home, ".npm"), filepath.Join(e.home, ".cache"), filepath.Join(e.home, "go")}
}

// TestToolchainCaches: real toolchains work in the sandbox with no rule
// for their caches (npm install from the npm registry, go get + build +
// clean -testcache through the module proxy, pip-style writes under
// ~/.cache, /tmp written in one run and read in the next), and the host's
// caches and /tmp are byte for byte what they were.
func TestToolchainCaches(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		caches := cacheEnv(t, e)
		before := map[string]string{}
		for _, c := range caches {
			before[c] = treeHash(t, c)
		}
		e.write("package.json", `{"name": "probe", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}}`+"\n")
		e.write("go.mod", "module probe\n\ngo 1.21\n")
		// A dependency with no imports of its own: the build compiles the
		// runtime and little else, in a cache that starts cold.
		e.write("main.go", "package main\n\nimport \"golang.org/x/exp/constraints\"\n\nfunc max[T constraints.Ordered](a, b T) T {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n\nfunc main() { println(max(35, 36)) }\n")
		marker := fmt.Sprintf("cordon-tmp-%d", time.Now().UnixNano())
		r := e.cordon("", "run", "--", "/bin/sh", "-c", strings.Join([]string{
			"set -e",
			"npm install --no-audit --no-fund --loglevel=error >/dev/null && echo npm-ok",
			"test -f node_modules/is-number/package.json && echo npm-installed",
			"go get golang.org/x/exp@v0.0.0-20261113113407-e3970619a1a4 && go build -o probe . && ./probe 2>&1 && go clean -testcache && echo go-ok",
			"mkdir -p ~/.cache/pip/http/a && echo wheel > ~/.cache/pip/http/a/b && echo pip-ok",
			"echo kept > /tmp/" + marker + " && mkdir /tmp/scratch && echo tmp-ok",
		}, "\n"))
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		for _, want := range []string{"npm-ok", "npm-installed", "36\n", "go-ok", "pip-ok", "tmp-ok"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q", want)
			}
		}
		if strings.Contains(r.stderr, "cordon: blocked") {
			t.Errorf("a toolchain's writes were reported as violations:\n%s", r.stderr)
		}
		r = e.cordon("", "run", "--", "/bin/sh", "-c", "cat /tmp/"+marker+"; cat ~/.cache/pip/http/a/b")
		if r.stdout != "kept\nwheel\n" {
			t.Errorf("the next run read %q (%s), want what the last one wrote to /tmp and ~/.cache", r.stdout, r.stderr)
		}
		for _, c := range caches {
			if after := treeHash(t, c); after != before[c] {
				t.Errorf("the host's %s changed", c)
			}
		}
		if _, err := os.Lstat("/tmp/" + marker); err == nil {
			t.Errorf("the sandbox's /tmp/%s reached the host's /tmp", marker)
		}
		// cordon cache clean drops the layers: the next run sees the host's cache again.
		if r := e.cordon("", "cache", "clean"); r.code != 0 {
			t.Fatalf("cache clean: %d %s", r.code, r.stderr)
		}
		r = e.cordon("", "run", "--", "/bin/sh", "-c", "test -e ~/.cache/pip/http/a/b && echo still || echo gone; cat ~/.cache/pip/selfcheck.json")
		if !strings.Contains(r.stdout, "gone") || !strings.Contains(r.stdout, "host cache") {
			t.Errorf("after cache clean: %q (%s)", r.stdout, r.stderr)
		}
	})
}

// TestPoisonedCacheStaysInItsWorkspace: an entry written into a cache
// inside one workspace is seen by that workspace's later runs, by no other
// workspace, and not by the host; a /tmp file likewise.
func TestPoisonedCacheStaysInItsWorkspace(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		cacheEnv(t, e)
		other := filepath.Join(filepath.Dir(e.ws), "other")
		if err := os.MkdirAll(other, 0o755); err != nil {
			t.Fatal(err)
		}
		e.chown()
		if e.user != nil {
			if err := os.Chown(other, e.user.UID, e.user.GID); err != nil {
				t.Fatal(err)
			}
		}
		r := e.cordon("", "run", "--", "/bin/sh", "-c", `mkdir -p ~/go/pkg/mod/cache/download/evil && echo poison > ~/go/pkg/mod/cache/download/evil/v1.zip
echo poison > ~/.npm/_cacache/index && echo poison > /tmp/poison && echo written`)
		if !strings.Contains(r.stdout, "written") {
			t.Fatalf("the poisoning run failed: %s", r.stderr)
		}
		r = e.cordon("", "run", "--", "/bin/sh", "-c", "cat ~/.npm/_cacache/index ~/go/pkg/mod/cache/download/evil/v1.zip /tmp/poison")
		if r.stdout != "poison\npoison\npoison\n" {
			t.Errorf("the same workspace does not see its own layer: %q %s", r.stdout, r.stderr)
		}
		r = e.cordon("", "run", "-w", other, "--", "/bin/sh", "-c", "cat ~/.npm/_cacache/index; ls ~/go/pkg/mod/cache/download; ls /tmp")
		if strings.Contains(r.stdout, "poison") || strings.Contains(r.stdout, "evil") {
			t.Errorf("another workspace sees the poisoned cache: %q", r.stdout)
		}
		if !strings.Contains(r.stdout, "host cache .npm/_cacache/index") {
			t.Errorf("the other workspace does not see the host's cache: %q %s", r.stdout, r.stderr)
		}
		b, _ := os.ReadFile(filepath.Join(e.home, ".npm/_cacache/index"))
		if string(b) != "host cache .npm/_cacache/index\n" {
			t.Errorf("the host's npm cache holds %q", b)
		}
		if _, err := os.Lstat(filepath.Join(e.home, "go/pkg/mod/cache/download/evil")); err == nil {
			t.Error("the poisoned module reached the host's module cache")
		}
		// The layers live in cordon's state dir, which no sandbox sees.
		r = e.cordon("", "run", "-w", other, "--", "/bin/sh", "-c", "ls "+filepath.Join(e.home, ".local/state/cordon")+" 2>&1; echo end")
		if strings.Contains(r.stdout, "layers") {
			t.Errorf("a sandbox can list the layers: %q", r.stdout)
		}
	})
}
