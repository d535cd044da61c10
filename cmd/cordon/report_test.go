package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
)

// violations runs script and returns its blocked accesses by target.
func (e *env) violations(script string) map[string]sandbox.Violation {
	e.t.Helper()
	r := e.cordon("", "run", "--json", "--", "/bin/sh", "-c", script+"\nexit 0")
	if r.code != 0 {
		e.t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	out := map[string]sandbox.Violation{}
	for _, line := range strings.Split(r.stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var v sandbox.Violation
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			e.t.Fatalf("bad JSON violation %q: %v", line, err)
		}
		if _, dup := out[v.Target]; dup {
			e.t.Errorf("%s reported twice", v.Target)
		}
		out[v.Target] = v
	}
	return out
}

func targets(m map[string]sandbox.Violation) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestReportedTargets: each blocked write names the path the command
// named, resolved as the kernel resolves it: against the cwd at the time of
// the call (mkdir -p enters each directory it makes or finds), against
// the dirfd of an *at call, through "..". A path written again and again
// is one report with a count.
func TestReportedTargets(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		if err := os.MkdirAll(filepath.Join(e.home, "proj", "pkg"), 0o755); err != nil {
			t.Fatal(err)
		}
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"ro/**\"]\n")
		e.write("ro/sub/keep", "")
		e.chown()
		home := e.home
		vs := e.violations(strings.Join([]string{
			// ~/proj/pkg exists and is read-only: mkdir -p finds go and pkg,
			// enters them and is refused mod. Many times, to give a late
			// reading of its cwd every chance to show.
			"for i in 1 2 3 4 5 6 7 8 9 10; do (cd " + home + " && mkdir -p proj/pkg/mod/cache) 2>/dev/null; done",
			"(cd " + e.ws + "/ro/sub && touch ../x) 2>/dev/null",
			// A removal of one name in the cwd: judged where it stands,
			// from the cwd the kernel names (no lookup of its own).
			"(cd " + e.ws + "/ro/sub && rm -f keep) 2>/dev/null",
			"(cd /usr/share && mkdir -p a/b/c) 2>/dev/null",
			`/usr/bin/python3 -c 'import os; fd = os.open("/usr/lib", os.O_RDONLY); os.chdir("/"); os.open("cordon-probe", os.O_CREAT | os.O_WRONLY, dir_fd=fd)' 2>/dev/null`,
		}, "\n"))
		want := []string{
			filepath.Join(home, "proj/pkg/mod"),
			filepath.Join(e.ws, "ro/x"),
			filepath.Join(e.ws, "ro/sub/keep"),
			"/usr/lib/cordon-probe",
			"/usr/share/a",
		}
		sort.Strings(want)
		if _, err := os.Lstat(filepath.Join(e.ws, "ro/sub/keep")); err != nil {
			t.Errorf("the refused removal removed: %v", err)
		}
		if got := targets(vs); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("reported:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		if n := vs[filepath.Join(home, "proj/pkg/mod")].Count; n < 10 {
			t.Errorf("ten refused mkdirs of one path counted %d", n)
		}
		for _, p := range []string{"ro/x", "ro/sub/keep"} {
			if v := vs[filepath.Join(e.ws, p)]; v.Rule.Line != 2 {
				t.Errorf("%s decided by %v, want the deny_write line", p, v.Rule)
			}
		}
	})
}

// TestAllowWriteMissingDirectory: an allow_write directory that does not
// exist yet is made (as the user) when it lies in the home, so the rule
// opens what it names; elsewhere cordon check warns on its line.
func TestAllowWriteMissingDirectory(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		cfg := filepath.Join(e.home, ".config", "cordon")
		if err := os.MkdirAll(cfg, 0o755); err != nil {
			t.Fatal(err)
		}
		outside := filepath.Join("/var/lib", "cordon-test-missing-"+filepath.Base(filepath.Dir(e.home)))
		policy := "[filesystem]\nallow_write = [\"~/tools/pkg/mod\", \"" + outside + "\"]\n"
		if err := os.WriteFile(filepath.Join(cfg, "sandbox.toml"), []byte(policy), 0o644); err != nil {
			t.Fatal(err)
		}
		e.chown()
		r := e.cordon("", "run", "--", "/bin/sh", "-c", "echo ok > ~/tools/pkg/mod/file && echo written")
		if !strings.Contains(r.stdout, "written") || strings.Contains(r.stderr, "blocked") {
			t.Fatalf("the missing allow_write directory was not opened: %q %s", r.stdout, r.stderr)
		}
		fi, err := os.Stat(filepath.Join(e.home, "tools/pkg/mod/file"))
		if err != nil {
			t.Fatal(err)
		}
		if e.user != nil {
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != e.user.UID {
				t.Errorf("made as uid %d, want the user's %d", st.Uid, e.user.UID)
			}
		}
		if _, err := os.Lstat(outside); err == nil {
			os.RemoveAll(outside)
			t.Fatalf("cordon made %s outside the home", outside)
		}
		r = e.cordon("", "check", filepath.Join(cfg, "sandbox.toml"))
		if want := ":2:"; !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "does not exist, so it opens nothing") {
			t.Errorf("cordon check does not warn on the missing directory: %q", r.stdout)
		}
		if strings.Contains(r.stdout, "tools/pkg/mod") {
			t.Errorf("cordon check warns on a directory it makes: %q", r.stdout)
		}
	})
}
