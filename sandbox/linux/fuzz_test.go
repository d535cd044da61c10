//go:build linux

package linux

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/workspace"
)

// FuzzPatternAgreesWithMatch: the walker's compiled NFA must accept
// exactly the paths workspace.Match accepts. A disagreement either drops a
// deny rule's target from the mounts or protects the wrong file.
func FuzzPatternAgreesWithMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"/w/**/*.pem", "/w/a/b/c.pem"},
		{"/w/**", "/w"},
		{"/w/**/.git/hooks", "/w/.git/hooks"},
		{"/w/[!a]*.key", "/w/b.key"},
		{"/w/[^a]*.key", "/w/a.key"},
		{"/w/?.env", "/w/x.env"},
		{`/w/\*.txt`, "/w/*.txt"},
		{"/w/*x*", "/w/axb"},
		{"/w/pre*", "/w/prefix"},
		{"/w/**/**/z", "/w/z"},
		{"/w/[a-c]/**/d", "/w/b/d"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		if !strings.HasPrefix(pat, "/") || !strings.HasPrefix(name, "/") || workspace.ValidGlob(pat) != nil {
			return
		}
		if strings.Count(pat, "/") >= maxSegments {
			return
		}
		p := compilePattern(pat)
		st := p.start()
		for _, seg := range strings.Split(strings.TrimPrefix(name, "/"), "/") {
			st = p.step(st, seg)
		}
		if got, want := p.accepts(st), workspace.Match(pat, name); got != want {
			t.Fatalf("pattern %q, path %q: walker says %v, workspace.Match says %v", pat, name, got, want)
		}
	})
}

// FuzzDecodeScan: the scan cache is read back from disk; whatever bytes it
// holds, decoding must not panic or allocate without bound, and what it
// accepts must re-encode to the same bytes (no lenient half-reads).
func FuzzDecodeScan(f *testing.F) {
	f.Add(encodeScan(&scanResult{Matches: map[string][]string{}}))
	f.Add(encodeScan(&scanResult{
		Matches: map[string][]string{"/w/**/*.pem": {"/w/a.pem", "/w/x/b.pem"}},
		Dirs:    []dirStamp{{Path: "/w", CTime: -5, Ino: 12}, {Path: "/w/x", CTime: 1 << 60, Ino: 1}},
	}))
	f.Add([]byte{scanCacheVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{scanCacheVersion, 0, 1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		res, ok := decodeScan(b)
		if !ok {
			return
		}
		again, ok := decodeScan(encodeScan(res))
		if !ok || !reflect.DeepEqual(again, res) {
			t.Fatalf("decoded %+v does not survive a round trip (%+v)", res, again)
		}
	})
}
