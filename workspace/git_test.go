package workspace

import (
	"errors"
	"strings"
	"testing"
)

func TestParseGitRemote(t *testing.T) {
	for _, tc := range []struct {
		in                       string
		scheme, host, user, path string
		port                     int
	}{
		{"https://github.com/acme/app.git", "https", "github.com", "", "acme/app.git", 0},
		{"http://127.0.0.1:8080/app.git", "http", "127.0.0.1", "", "app.git", 8080},
		{"ssh://git@GitHub.com:2222/acme/app.git", "ssh", "github.com", "git", "acme/app.git", 2222},
		{"git@github.com:acme/app.git", "ssh", "github.com", "git", "acme/app.git", 0},
		{"example.org:repo", "ssh", "example.org", "", "repo", 0},
		{"https://[::1]:9/r", "https", "[::1]", "", "r", 9},
	} {
		r, err := ParseGitRemote(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if r.Scheme != tc.scheme || r.Host != tc.host || r.User != tc.user || r.Path != tc.path || r.Port != tc.port {
			t.Errorf("%s: got %+v", tc.in, r)
		}
	}
	for _, bad := range []string{
		"", "https://u:secret@github.com/a.git", "ftp://x/y", "file:///tmp/r", "/tmp/repo",
		"https://github.com/", "https://github.com/a/../b", "https://github.com/a?x=1",
		"https://git hub.com/a", "https://exa\x00mple.com/a", "git@github.com:", "https://github.com/a/*",
		"https://0x7f.1/a",
	} {
		if r, err := ParseGitRemote(bad); err == nil {
			t.Errorf("%q: accepted as %+v", bad, r)
		}
	}
}

func TestParseRefRule(t *testing.T) {
	r, err := ParseRefRule("agent/*")
	if err != nil || r.Ref != "refs/heads/agent/*" {
		t.Fatalf("agent/*: %+v %v", r, err)
	}
	if !r.Matches("refs/heads/agent/x") || r.Matches("refs/heads/agent/x/y") || r.Matches("refs/heads/main") || r.Matches("refs/tags/agent/x") {
		t.Error("agent/* matches wrongly")
	}
	tags, _ := ParseRefRule("refs/tags/v*")
	if !tags.Matches("refs/tags/v1.2") || tags.Matches("refs/heads/v1") {
		t.Error("refs/tags/v* matches wrongly")
	}
	deep, _ := ParseRefRule("agent/**")
	if !deep.Matches("refs/heads/agent/a/b") {
		t.Error("agent/** does not cross segments")
	}
	for _, bad := range []string{"", "a b", "a..b", "a:b", "/x", "x/", "a//b", "x@{1}", "a/**b"} {
		if _, err := ParseRefRule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

const gitPolicy = `[network]
allow = ["example.org"]

[git]
remotes = ["https://github.com/acme/app.git", "git@github.com:acme/app.git"]
push = ["agent/*", "refs/tags/v*"]
allow_force = true
allow_delete = true
`

func TestGitTableIsWideningUntilTrusted(t *testing.T) {
	f := newFixture(t)
	f.writeWS(t, gitPolicy)
	p := f.load(t)
	if p.Trusted {
		t.Fatal("a [git] table is trusted without approval")
	}
	kinds := map[string]int{}
	for _, w := range p.Untrusted {
		kinds[w.Kind]++
	}
	// 2 remotes + 2 push patterns + force + delete.
	if kinds["git"] != 6 {
		t.Fatalf("git widenings = %d, want 6: %v", kinds["git"], p.Untrusted)
	}
	if len(p.Git.Remotes)+len(p.Git.Push) != 0 || p.Git.AllowForce || p.Git.AllowDelete {
		t.Fatalf("untrusted [git] applied: %+v", p.Git)
	}

	if err := (TrustStore{Dir: f.dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
		t.Fatal(err)
	}
	p = f.load(t)
	if !p.Trusted || len(p.Git.Remotes) != 2 || len(p.Git.Push) != 2 || !p.Git.AllowForce || !p.Git.AllowDelete {
		t.Fatalf("trusted [git] not applied: %+v", p.Git)
	}
	if src := p.Git.Push[0].Source; src.Line != 6 || src.Col != 9 {
		t.Errorf("push[0] at %d:%d, want 6:9", src.Line, src.Col)
	}
	if p.Git.PushSource.Line != 6 || p.Git.ForceSource.Line != 7 || p.Git.DeleteSource.Line != 8 {
		t.Errorf("sources: push %v force %v delete %v", p.Git.PushSource, p.Git.ForceSource, p.Git.DeleteSource)
	}
	ex := Explain(p)
	for _, want := range []string{"remote   https://github.com/acme/app.git", "push     refs/heads/agent/*", "non-fast-forward allowed"} {
		if !strings.Contains(ex, want) {
			t.Errorf("Explain lacks %q:\n%s", want, ex)
		}
	}
}

func TestGitUserGrantsAndNarrowings(t *testing.T) {
	f := newFixture(t)
	f.writeUser(t, "[git]\nremotes = [\"https://github.com/acme/app.git\"]\npush = [\"agent/*\"]\nallow_force = true\n")
	// The workspace repeats what the user grants and narrows force:
	// nothing widens, so it is trusted without asking.
	f.writeWS(t, "[git]\nremotes = [\"https://github.com/acme/app.git\"]\npush = [\"agent/*\"]\nallow_force = false\n")
	p := f.load(t)
	if !p.Trusted || len(p.Untrusted) != 0 {
		t.Fatalf("repeating the user's grants widens: %v", p.Untrusted)
	}
	if p.Git.AllowForce {
		t.Error("allow_force = false in the workspace did not narrow the user's true")
	}
	// An untrusted workspace file still narrows.
	f.writeWS(t, "[git]\nremotes = [\"https://evil.example/x.git\"]\nallow_force = false\n")
	p = f.load(t)
	if p.Trusted || p.Git.AllowForce || len(p.Git.Remotes) != 1 || p.Git.Remotes[0].URL != "https://github.com/acme/app.git" {
		t.Fatalf("untrusted narrowing: trusted %v, %+v", p.Trusted, p.Git)
	}
}

func TestGitTableErrors(t *testing.T) {
	src := "[git]\nremotes = [\"https://u:pw@github.com/a.git\"]\npush = [\"a b\"]\nallow_force = \"yes\"\nbranches = []\n"
	_, err := Parse("/ws/.sandbox.toml", []byte(src), Dirs{Home: "/home/u"}, "/ws")
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"2:12: remote", "3:9: push pattern", "4:15: git.allow_force: want true or false", "5:1: unknown key \"branches\" in [git]"}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("errors lack %q:\n%s", w, got)
		}
	}
}
