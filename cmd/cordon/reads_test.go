//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// TestReadsReported: a read of something under deny_read or the
// credential set is one `read` violation with the path the command named
// and the deciding rule, and shows nothing of the real file; reading
// allowed files reports nothing. Each command runs alone, so that "one"
// is the whole run's report.
func TestReadsReported(t *testing.T) {
	// Outside /tmp, so that the Landlock layer's read line holds here
	// too (inside, /tmp is the run's private one, writable as a whole,
	// and Landlock carves no denied path out of a writable place): the
	// masks must be opened through it.
	t.Setenv("TMPDIR", "/var/tmp")
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_read = [\"secrets\", \"*.key\"]\n")
		e.write("secrets/token", "s3cret-dir")
		e.write("id.key", "s3cret-file")
		e.write("ok.txt", "readable")
		e.homeFile(".aws/credentials", "s3cret-aws")
		e.homeFile(".ssh/id_ed25519", "s3cret-ssh")
		e.homeFile(".netrc", "s3cret-netrc")
		e.chown()
		rule := sandbox.Violation{}
		rule.Rule.File, rule.Rule.Line = filepath.Join(e.ws, ".sandbox.toml"), 2
		cases := []struct {
			cmd, target string
			rule        sandbox.Violation // its Rule: the zero one is the credential set's
		}{
			{"cat id.key", filepath.Join(e.ws, "id.key"), rule},
			{"ls secrets", filepath.Join(e.ws, "secrets"), rule},
			{"cat ~/.ssh/id_ed25519", filepath.Join(e.home, ".ssh/id_ed25519"), sandbox.Violation{}},
			{"cat ~/.netrc", filepath.Join(e.home, ".netrc"), sandbox.Violation{}},
			{"ls ~/.aws", filepath.Join(e.home, ".aws"), sandbox.Violation{}},
		}
		for _, c := range cases {
			// The positive control: the command ran and read what the
			// sandbox shows there (nothing).
			got := e.violations(c.cmd + " > out.txt 2>&1; echo ran >> out.txt")
			out, _ := os.ReadFile(filepath.Join(e.ws, "out.txt"))
			if strings.Contains(string(out), "s3cret") || !strings.HasSuffix(string(out), "ran\n") {
				t.Errorf("%s: the command saw %q", c.cmd, out)
			}
			if len(got) != 1 {
				t.Errorf("%s: want one violation (%s), got %v", c.cmd, c.target, targets(got))
				continue
			}
			v, ok := got[c.target]
			switch {
			case !ok:
				t.Errorf("%s: want %s reported, got %v", c.cmd, c.target, targets(got))
			case v.Kind != sandbox.KindRead || v.Rule != c.rule.Rule || v.Count > 1:
				t.Errorf("%s: got %+v, want a read of %s once, rule %q", c.cmd, v, c.target, c.rule.Rule)
			}
		}
		// The same file read three times is one report with its count.
		got := e.violations("cat id.key id.key; cat id.key")
		if v := got[filepath.Join(e.ws, "id.key")]; len(got) != 1 || v.Count != 3 {
			t.Errorf("three reads: got %+v", got)
		}
		// Allowed files, listing the places around the hidden ones, and
		// stat (no open) of a hidden path: nothing to report.
		if got := e.violations("cat ok.txt; ls -la . ~ ~/.ssh/id_ed25519 > /dev/null; stat secrets ~/.aws > /dev/null; test -e ~/.netrc"); len(got) != 0 {
			t.Errorf("allowed reads reported: %v", targets(got))
		}
	})
}

// TestGoBuildReadsNothingHidden: go build of this repository inside (git
// for the VCS stamp included) opens nothing hidden, with the credential
// set all there; a read of one of them in the same run is reported (the
// positive control: the masks are watched in this run). Root only: it
// builds with the host's warm build and module caches, which the
// unprivileged user cannot read, and a cold build of the repository
// costs minutes here. (TestToolchainCaches builds with go as the user,
// and fails on any violation, reads included.)
func TestGoBuildReadsNothingHidden(t *testing.T) {
	sandboxtest.RequireRoot(t)
	e := newEnv(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := exec.Command("git", "-C", repo, "ls-files", "-co", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			continue // deleted in the work tree
		}
		e.write(f, string(b))
	}
	for _, f := range []string{".ssh/id_ed25519", ".aws/credentials", ".netrc", ".git-credentials", ".config/gh/hosts.yml", ".docker/config.json", ".npmrc"} {
		e.homeFile(f, "s3cret")
	}
	var caches []string
	for _, v := range []string{"GOCACHE", "GOMODCACHE"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatal(err)
		}
		caches = append(caches, v+"="+strings.TrimSpace(string(out)))
	}
	e.extra = append(e.extra, append(caches, "GOPROXY=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")...)
	got := e.violations("go build ./... && echo build-ok > built.txt; cat ~/.netrc")
	if b, _ := os.ReadFile(filepath.Join(e.ws, "built.txt")); string(b) != "build-ok\n" {
		t.Fatalf("go build failed inside")
	}
	var reads []string
	for target, v := range got {
		if v.Kind == sandbox.KindRead {
			reads = append(reads, target)
		}
	}
	if want := filepath.Join(e.home, ".netrc"); len(reads) != 1 || reads[0] != want {
		t.Errorf("reads reported: %v, want only the control's %s", reads, want)
	}
}
