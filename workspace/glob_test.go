package workspace

import (
	"path"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"/ws/*.pem", "/ws/a.pem", true},
		{"/ws/*.pem", "/ws/sub/a.pem", false},
		{"/ws/**/*.pem", "/ws/a.pem", true},
		{"/ws/**/*.pem", "/ws/a/b/c.pem", true},
		{"/ws/secrets/**", "/ws/secrets", true},
		{"/ws/secrets/**", "/ws/secrets/a/b", true},
		{"/ws/secrets/**", "/ws/secretsx", false},
		{"/ws/secrets/**", "/ws/other/secrets", false},
		{"/ws/a?c", "/ws/abc", true},
		{"/ws/a?c", "/ws/a/c", false},
		{"/ws/[ab].txt", "/ws/b.txt", true},
		{"/ws/[!ab].txt", "/ws/b.txt", false},
		{"/ws/**", "/ws", true},
		{"/**/.env", "/x/y/.env", true},
		{"/ws/**/**/x", "/ws/x", true},
		{"/ws/.env", "/ws/.env", true},
		{"/ws/*", "/ws/.hidden", true},
		{"/ws/**/b", "/ws/b", true},
		{"/ws/**/b", "/ws/a/b/c", false},
		{"/ws/a/**/b/**", "/ws/a/x/b", true},
		{"/ws/a/**/b/**", "/ws/a/x/b/y/z", true},
		{"/ws/a/**/b/**", "/ws/a/x/c", false},
		{"/ws/\\*", "/ws/*", true},
		{"/ws/\\*", "/ws/a", false},
		{"/ws/[a-c]x", "/ws/bx", true},
		{"/ws/[a-c]x", "/ws/dx", false},
		{"/ws/[^a]", "/ws/a", false},
		{"/ws/[^a]", "/ws/b", true},
		{"/ws/[!a]", "/ws/!", true},
		{"/", "/", true},
		{"/**", "/etc/passwd", true},
		{"/**", "/", true},
		{"/ws/*", "/ws", false},
		{"/ws/*", "/ws/a/b", false},
		{"/ws/?", "/ws/\u00e9", true}, // one rune, two bytes
		{"/ws/??", "/ws/\u00e9", false},
		{"/ws/**/*.pem", "/ws/.pem", true},
		{"/ws/**/*.pem", "/ws/a.pem/b", false},
		{"/ws/secrets/**", "/ws", false},
		{"/ws/[a", "/ws/[a", false},  // malformed: matches nothing
		{"/ws/**x", "/ws/ax", false}, // malformed: matches nothing
		{"/ws/*/c", "/ws/a/c", true},
		{"/ws/*/c", "/ws/c", false},
		{"/ws/.env", "/ws/.envrc", false},
		{"/ws/*.pem", "/ws/a.pem.bak", false},
	} {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestGlobBaseAndPrefix(t *testing.T) {
	for pattern, want := range map[string]string{
		"/ws/secrets/**":  "/ws/secrets",
		"/ws/*.pem":       "/ws",
		"/ws/a/b":         "/ws/a/b",
		"/*/x":            "/",
		"/ws/a/[bc]/d/**": "/ws/a",
		"/**":             "/",
		"/ws/a?/b":        "/ws",
		"/ws/**/x":        "/ws",
	} {
		if got := GlobBase(pattern); got != want {
			t.Errorf("GlobBase(%q) = %q, want %q", pattern, got, want)
		}
	}
	if !MatchPrefix("/ws/a/*/c", "/ws/a/zz") || MatchPrefix("/ws/a/*/c", "/ws/b") || !MatchPrefix("/ws/**/c", "/ws/q/r/s") {
		t.Error("MatchPrefix prunes wrongly")
	}
}

func TestValidGlob(t *testing.T) {
	for _, bad := range []string{"/ws/[a", "/ws/a**", "/ws/**b/c", "/ws/\\", "/ws/[]", "/ws/***"} {
		if ValidGlob(bad) == nil {
			t.Errorf("ValidGlob(%q) = nil", bad)
		}
	}
	for _, good := range []string{"/ws/**", "/ws/*.pem", "/ws/[a-z]?/**/x", "/ws/[!.]*", "/ws/\\*", "/ws/**/**"} {
		if err := ValidGlob(good); err != nil {
			t.Errorf("ValidGlob(%q) = %v", good, err)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"/ws/*.pem", "/ws/a.pem"}, {"/ws/**/x", "/ws/a/b/x"}, {"/[a-", "/a"}, {"/ws/[!x]?", "/ws/ab"}, {"[!a]", "b"}, {"a\\*", "a*"}, {"[]a]", "]"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 200 || len(name) > 200 || strings.Count(pattern, "**") > 4 {
			return
		}
		got := Match(pattern, name)
		if !HasGlob(pattern) && !strings.Contains(pattern, "\\") && got != (pattern == name) {
			t.Fatalf("literal Match(%q, %q) = %v", pattern, name, got)
		}
		if got && ValidGlob(pattern) != nil {
			t.Fatalf("Match(%q, %q): a pattern ValidGlob rejects matched", pattern, name)
		}
		// Within one segment and without "**", Match must agree with
		// path.Match, but for the one deliberate extension: the shell's
		// "[!...]" negation, which path.Match reads as a class holding "!".
		if !strings.Contains(pattern, "**") && !strings.Contains(pattern, "[!") && !strings.Contains(pattern, "/") && !strings.Contains(name, "/") {
			want, err := path.Match(pattern, name)
			if err == nil && got != want {
				t.Fatalf("Match(%q, %q) = %v, path.Match says %v", pattern, name, got, want)
			}
			if err != nil && got {
				t.Fatalf("Match(%q, %q) matched a malformed pattern", pattern, name)
			}
		}
	})
}

func FuzzCanonicalHost(f *testing.F) {
	for _, s := range []string{"GitHub.com.", "bücher.example", "a\x00b", "[::1]", "1.2.3.4", "xn--bcher-kva.example", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		c, err := CanonicalHost(host)
		if err != nil {
			return
		}
		if strings.ContainsAny(c, "\x00 \t\r\n") || strings.HasSuffix(c, ".") || c != strings.ToLower(c) {
			t.Fatalf("CanonicalHost(%q) = %q: not canonical", host, c)
		}
		// Canonical forms are fixed points.
		if c2, err := CanonicalHost(c); err != nil || c2 != c {
			t.Fatalf("CanonicalHost(%q) = %q, but again gives %q, %v", host, c, c2, err)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[filesystem]\nallow_write = [\"a\"]\n",
		"[network]\nallow = [\"*.x.com:443\"]\nunknown = \"deny\"\n",
		"[env]\nset = { A = \"1\" }\n[limits]\nmemory = \"1GiB\"\n",
		"[network\n", "x = 1\n", "[filesystem]\ndeny_read = [\"a/[b\"]\n",
		"network = { allow = [\"a.example\", 'b.example:1'] }\nfilesystem.deny_read = [\"\"\"x\"\"\"]\n",
		"[env.set]\nA = '''\n[network]'''\n[[limits]]\n",
		"[network]\npublish = [\"5173\", \"65535\", \"0\"]\n",
	} {
		f.Add([]byte(s))
	}
	d := Dirs{Home: "/home/u", ConfigDir: "/home/u/.config/cordon", StateDir: "/home/u/.local/state/cordon"}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := strings.Split(string(data), "\n")
		inside := func(line, col int) bool {
			return line >= 1 && line <= len(lines) && col >= 1 && col <= len(lines[line-1])+1
		}
		f, err := Parse("/ws/.sandbox.toml", data, d, "/ws")
		if err == nil {
			var srcs []Source
			for _, rs := range [][]PathRule{f.Filesystem.AllowWrite, f.Filesystem.DenyWrite, f.Filesystem.DenyRead, f.Filesystem.AllowRead, f.Network.AllowUnixSockets} {
				for _, r := range rs {
					srcs = append(srcs, r.Source)
				}
			}
			for _, r := range append(f.Network.Allow, f.Network.Deny...) {
				srcs = append(srcs, r.Source)
			}
			for _, r := range f.Network.Publish {
				if r.Port < 1 || r.Port > 65535 {
					t.Fatalf("published port %d", r.Port)
				}
				srcs = append(srcs, r.Source)
			}
			for _, s := range srcs {
				if !inside(s.Line, s.Col) {
					t.Fatalf("rule source %d:%d outside the file", s.Line, s.Col)
				}
			}
			return
		}
		pe, ok := err.(*PolicyError)
		if !ok || len(pe.Diagnostics) == 0 {
			t.Fatalf("error %v is not a *PolicyError with diagnostics", err)
		}
		for _, dg := range pe.Diagnostics {
			if !inside(dg.Line, dg.Col) {
				t.Fatalf("diagnostic %q outside the file (%d lines)", dg.Error(), len(lines))
			}
		}
	})
}

// TestPathsGitignoreDepth: a pattern with no slash matches its name at
// any depth; one with a slash is anchored at the root, for every list.
func TestPathsGitignoreDepth(t *testing.T) {
	const root, home = "/w", "/h"
	for _, c := range []struct {
		in, want string
		match    []string
		miss     []string
	}{
		{"*.pem", "/w/**/*.pem", []string{"/w/a.pem", "/w/keys/deep/a.pem"}, []string{"/x/a.pem"}},
		{".env", "/w/**/.env", []string{"/w/.env", "/w/app/.env"}, []string{"/w/.env.local"}},
		{"node_modules/", "/w/**/node_modules", []string{"/w/node_modules", "/w/pkg/node_modules"}, nil},
		{"secrets/**", "/w/secrets/**", []string{"/w/secrets/a"}, []string{"/w/sub/secrets/a"}},
		{"config/prod.env", "/w/config/prod.env", []string{"/w/config/prod.env"}, []string{"/w/x/config/prod.env"}},
		{"./x", "/w/x", []string{"/w/x"}, []string{"/w/y/x"}},
		{"..", "/", nil, nil},
		{"../shared", "/shared", nil, nil},
		{"~/.aws", "/h/.aws", nil, nil},
	} {
		got, err := ExpandPath(c.in, root, home)
		if err != nil || got != c.want {
			t.Errorf("ExpandPath(%q) = %q, %v; want %q", c.in, got, err, c.want)
			continue
		}
		for _, m := range c.match {
			if !Match(got, m) {
				t.Errorf("%q (%s) does not match %s", c.in, got, m)
			}
		}
		for _, m := range c.miss {
			if Match(got, m) {
				t.Errorf("%q (%s) matches %s", c.in, got, m)
			}
		}
	}
}
