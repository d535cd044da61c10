package darwin

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/workspace"
)

func mustGlob(t *testing.T, pattern string, subtree bool) string {
	t.Helper()
	re, err := globRegex(pattern, subtree)
	if err != nil {
		t.Fatalf("globRegex(%q): %v", pattern, err)
	}
	return re
}

// Each pattern against names that must and must not match, through the
// POSIX reading of the emitted expression.
func TestGlobRegexTable(t *testing.T) {
	cases := []struct {
		pattern   string
		match, no []string
	}{
		{"/w/*.pem", []string{"/w/a.pem", "/w/.pem", "/w/.key.pem"}, []string{"/w/a/b.pem", "/w/a.pemx", "/x/a.pem", "/w/a.pem/"}},
		{"/w/**/*.pem", []string{"/w/a.pem", "/w/x/a.pem", "/w/x/y/z.pem"}, []string{"/w/a.txt", "/wa.pem", "/v/a.pem"}},
		{"/w/**/.env", []string{"/w/.env", "/w/a/.env"}, []string{"/w/x.env", "/w/.envrc", "/w/a/b.env"}},
		{"/w/secrets/**", []string{"/w/secrets", "/w/secrets/a", "/w/secrets/a/b"}, []string{"/w/secretsx", "/w/secret", "/w"}},
		{"/w/a?c", []string{"/w/abc", "/w/a.c"}, []string{"/w/ac", "/w/a/c", "/w/abbc"}},
		{"/w/[ab]c", []string{"/w/ac", "/w/bc"}, []string{"/w/cc", "/w/abc"}},
		{"/w/[!ab]c", []string{"/w/cc", "/w/.c"}, []string{"/w/ac", "/w/bc", "/w//c"}},
		{"/w/[^a-c]x", []string{"/w/dx", "/w/-x"}, []string{"/w/ax", "/w/bx", "/w/cx"}},
		{"/w/[]]", nil, nil}, // malformed in path.Match (empty class): an error
		{`/w/[\]]x`, []string{"/w/]x"}, []string{"/w/\\x", "/w/x"}},
		{`/w/[\-a]`, []string{"/w/-", "/w/a"}, []string{"/w/b"}},
		{`/w/[\^]`, []string{"/w/^"}, []string{"/w/a"}},
		{`/w/[!\^]`, []string{"/w/a"}, []string{"/w/^"}},
		{`/w/[\\]`, []string{`/w/\`}, []string{"/w/a"}},
		{`/w/[\[]`, []string{"/w/["}, []string{"/w/a"}},
		{"/w/[+-0]", []string{"/w/+", "/w/.", "/w/0", "/w/-"}, []string{"/w/1", "/w/*"}},
		{"/w/a.b(c)|d+$^{1}", []string{"/w/a.b(c)|d+$^{1}"}, []string{"/w/aXb(c)|d+$^{1}", "/w/a.b(c)|dd$^{1}"}},
		{`/w/\*`, []string{"/w/*"}, []string{"/w/a"}},
		{"/w/é*", []string{"/w/é", "/w/ét"}, []string{"/w/e"}},
		{"/**/x", []string{"/x", "/a/x", "/a/b/x"}, []string{"/xa", "/a/xa"}},
		{"/w/**/**/x", []string{"/w/x", "/w/a/x"}, []string{"/w/ax"}},
		{"/w/**", []string{"/w", "/w/a", "/w/a/b"}, []string{"/wa"}},
		{"/w/a b/\"q\"", []string{"/w/a b/\"q\""}, []string{"/w/a b/q"}},
	}
	for _, c := range cases {
		re, err := globRegex(c.pattern, false)
		if c.match == nil && c.no == nil {
			if err == nil && workspace.ValidGlob(c.pattern) == nil {
				t.Errorf("%q: no error, want one", c.pattern)
			}
			continue
		}
		if err != nil {
			t.Errorf("globRegex(%q): %v", c.pattern, err)
			continue
		}
		rx, err := ereToGo(re)
		if err != nil {
			t.Errorf("%q → %s: %v", c.pattern, re, err)
			continue
		}
		for _, n := range c.match {
			if !rx.MatchString(n) {
				t.Errorf("%q (%s) does not match %q", c.pattern, re, n)
			}
			if !workspace.Match(c.pattern, n) {
				t.Errorf("table error: workspace.Match(%q, %q) = false", c.pattern, n)
			}
		}
		for _, n := range c.no {
			if rx.MatchString(n) {
				t.Errorf("%q (%s) matches %q", c.pattern, re, n)
			}
			if workspace.Match(c.pattern, n) && !strings.Contains(n, "//") {
				t.Errorf("table error: workspace.Match(%q, %q) = true", c.pattern, n)
			}
		}
	}
}

// The subtree reading matches what is below each match, and nothing else.
func TestGlobRegexSubtree(t *testing.T) {
	rx, err := ereToGo(mustGlob(t, "/w/*.pem", true))
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]bool{"/w/a.pem": true, "/w/a.pem/k": true, "/w/a.pem/k/l": true, "/w/a.pemk": false, "/w/x/a.pem": false} {
		if rx.MatchString(n) != want {
			t.Errorf("%q: %v, want %v", n, !want, want)
		}
	}
	if a, b := mustGlob(t, "/w/s/**", true), mustGlob(t, "/w/s/**", false); a != b {
		t.Errorf("a trailing ** gets a second subtree tail: %s", a)
	}
}

// Random patterns and names over a small alphabet heavy in special
// characters: the emitted expression and workspace.Match agree on every
// pair (the one-byte approximation aside: the alphabet is ASCII).
func TestGlobRegexAgreesWithMatch(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	patAlpha := []string{"a", "b", ".", "*", "?", "[ab]", "[!a]", "[a-c]", `\*`, "-", "]", "^", "$", "(", "|", "+", "{", `\\`, "[\\]]", "[\\^-]"}
	nameAlpha := []byte("ab.*-]^$(|+{\\c")
	checked, matched := 0, 0
	for i := 0; i < 3000; i++ {
		var segs []string
		for n := 1 + rng.Intn(3); n > 0; n-- {
			if rng.Intn(6) == 0 {
				segs = append(segs, "**")
				continue
			}
			var s strings.Builder
			for k := 1 + rng.Intn(3); k > 0; k-- {
				s.WriteString(patAlpha[rng.Intn(len(patAlpha))])
			}
			segs = append(segs, s.String())
		}
		pattern := "/" + strings.Join(segs, "/")
		if workspace.ValidGlob(pattern) != nil {
			continue
		}
		re, err := globRegex(pattern, false)
		if err == errNeverMatches {
			continue
		}
		if err != nil {
			t.Fatalf("globRegex(%q): %v", pattern, err)
		}
		rx, err := ereToGo(re)
		if err != nil {
			t.Fatalf("%q → %s: %v", pattern, re, err)
		}
		for j := 0; j < 30; j++ {
			var ns []string
			for n := 1 + rng.Intn(4); n > 0; n-- {
				var s strings.Builder
				for k := 1 + rng.Intn(3); k > 0; k-- {
					s.WriteByte(nameAlpha[rng.Intn(len(nameAlpha))])
				}
				ns = append(ns, s.String())
			}
			name := "/" + strings.Join(ns, "/")
			got, want := rx.MatchString(name), workspace.Match(pattern, name)
			if got != want {
				t.Fatalf("pattern %q name %q: regex %s says %v, workspace.Match %v", pattern, name, re, got, want)
			}
			checked++
			if want {
				matched++
			}
		}
	}
	// A comparison that never sees a match proves little.
	if checked < 30000 || matched < 500 {
		t.Fatalf("only %d pairs compared, %d of them matching", checked, matched)
	}
	t.Logf("%d pairs compared, %d matching", checked, matched)
}

// Every special character of SBPL's string syntax is escaped, the rest
// (Unicode included) passes as it is, and control characters that have no
// escape are refused.
func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		`/a"b`:        `"/a\"b"`,
		`/a\b`:        `"/a\\b"`,
		"/a\nb":       `"/a\nb"`,
		"/a\tb\r":     `"/a\tb\r"`,
		"/(a) [b] ;c": `"/(a) [b] ;c"`,
		"/héllo/日本/🙂": `"/héllo/日本/🙂"`,
		`/x\"y`:       `"/x\\\"y"`,
	} {
		got, err := quote(in)
		if err != nil || got != want {
			t.Errorf("quote(%q) = %s, %v; want %s", in, got, err, want)
		}
		back, err := readString(got)
		if err != nil || back != in {
			t.Errorf("reading back %s = %q, %v; want %q", got, back, err, in)
		}
	}
	for _, bad := range []string{"/a\x00b", "/a\x01", "/a\x7f", "/a\xffb", "/" + strings.Repeat("x", maxString)} {
		if got, err := quote(bad); err == nil {
			t.Errorf("quote(%q) = %s, want an error", bad, got)
		}
	}
}

func TestRegexLiteral(t *testing.T) {
	s := `a.b[c]d(e)f*g+h?i{j}k|l^m$n\o/p q`
	rx, err := ereToGo("^" + regexLiteral(s) + "$")
	if err != nil {
		t.Fatal(err)
	}
	if !rx.MatchString(s) || rx.MatchString(strings.Replace(s, ".", "X", 1)) {
		t.Errorf("regexLiteral(%q) = %s does not match exactly itself", s, regexLiteral(s))
	}
}
