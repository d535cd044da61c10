//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
)

// TestReadsReported: a read of something under deny_read or the
// credential set is one `read` violation with the path the command named
// and the deciding rule, and shows nothing of the real file; reading
// allowed files reports nothing. Each command runs alone, so that "one"
// is the whole run's report.
func TestReadsReported(t *testing.T) {
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
