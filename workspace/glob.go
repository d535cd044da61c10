package workspace

import (
	"fmt"
	"path"
	"strings"
)

// HasGlob reports whether pattern holds a glob metacharacter.
func HasGlob(pattern string) bool {
	return strings.ContainsAny(pattern, "*?[")
}

// ValidGlob reports a malformed pattern: an unclosed class, a "**" that is
// not a whole path segment, an empty class.
func ValidGlob(pattern string) error {
	for _, seg := range strings.Split(pattern, "/") {
		if strings.Contains(seg, "**") && seg != "**" {
			return fmt.Errorf("%q: ** must be a whole path segment (a/**/b)", pattern)
		}
		if seg == "**" {
			continue
		}
		if _, err := path.Match(shellClass(seg), ""); err != nil {
			return fmt.Errorf("%q: malformed glob segment %q", pattern, seg)
		}
	}
	return nil
}

// GlobBase is the longest directory prefix of pattern without a
// metacharacter: where a walk for its matches starts.
func GlobBase(pattern string) string {
	segs := strings.Split(pattern, "/")
	var base []string
	for _, s := range segs {
		if HasGlob(s) {
			break
		}
		base = append(base, s)
	}
	if len(base) == len(segs) {
		return pattern
	}
	b := strings.Join(base, "/")
	if b == "" {
		return "/"
	}
	return b
}

// Match reports whether the absolute, cleaned name matches pattern:
// `*`, `?` and `[...]` within one segment (with the shell's `[!...]` as
// well as `[^...]` for negation, and `\` escaping), `**` across any number
// of segments (zero included, so a trailing "/**" matches the directory
// itself). `*` matches a leading dot: a deny of "*.pem" covers ".key.pem".
// A malformed pattern matches nothing.
func Match(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

// MatchPrefix reports whether some path below name could match pattern:
// a walker uses it to prune directories that cannot lead to a match.
func MatchPrefix(pattern, name string) bool {
	ps, ns := strings.Split(pattern, "/"), strings.Split(name, "/")
	for i, n := range ns {
		if i >= len(ps) {
			return false
		}
		if ps[i] == "**" {
			return true
		}
		if ok, _ := path.Match(shellClass(ps[i]), n); !ok {
			return false
		}
	}
	return true
}

func matchSegs(ps, ns []string) bool {
	for len(ps) > 0 {
		if ps[0] == "**" {
			// Collapse runs of ** and try every split point.
			for len(ps) > 0 && ps[0] == "**" {
				ps = ps[1:]
			}
			if len(ps) == 0 {
				return true
			}
			for i := 0; i <= len(ns); i++ {
				if matchSegs(ps, ns[i:]) {
					return true
				}
			}
			return false
		}
		if len(ns) == 0 {
			return false
		}
		// A malformed segment (which ValidGlob rejects, so Parse never
		// lets one through) matches nothing.
		if strings.Contains(ps[0], "**") {
			return false
		}
		if ok, err := path.Match(shellClass(ps[0]), ns[0]); err != nil || !ok {
			return false
		}
		ps, ns = ps[1:], ns[1:]
	}
	return len(ns) == 0
}

// shellClass accepts the shell's "[!...]" negation beside Go's "[^...]".
func shellClass(seg string) string {
	if !strings.Contains(seg, "[!") {
		return seg
	}
	return strings.ReplaceAll(seg, "[!", "[^")
}
