//go:build linux

package linux

import (
	"path"
	"strings"
)

// segKind classifies a pattern segment so the common shapes match without
// path.Match: most rules are literals, "*", "*.ext" or "**".
type segKind uint8

const (
	segLiteral segKind = iota
	segAny             // *
	segSuffix          // *.ext (one star, leading, no other metacharacter)
	segPrefix          // name* (one star, trailing)
	segGlob            // anything else: path.Match
	segDeep            // **
)

type segment struct {
	kind segKind
	text string // literal, suffix, prefix or glob text
}

func compileSegment(s string) segment {
	switch {
	case s == "**":
		return segment{kind: segDeep}
	case s == "*":
		return segment{kind: segAny}
	case !strings.ContainsAny(s, "*?[\\"):
		return segment{kind: segLiteral, text: s}
	case strings.Count(s, "*") == 1 && !strings.ContainsAny(s, "?[\\"):
		if s[0] == '*' {
			return segment{kind: segSuffix, text: s[1:]}
		}
		if s[len(s)-1] == '*' {
			return segment{kind: segPrefix, text: s[:len(s)-1]}
		}
	}
	return segment{kind: segGlob, text: strings.ReplaceAll(s, "[!", "[^")}
}

func (g segment) match(name string) bool {
	switch g.kind {
	case segLiteral:
		return name == g.text
	case segAny:
		return true
	case segSuffix:
		return strings.HasSuffix(name, g.text)
	case segPrefix:
		return strings.HasPrefix(name, g.text)
	case segGlob:
		ok, _ := path.Match(g.text, name)
		return ok
	}
	return false
}

// pattern is a compiled absolute glob, walked one path segment at a time
// as a small NFA whose state set is a bit mask: bit i set means "the next
// segment may match pattern segment i". No allocation per step.
type pattern struct {
	text string
	segs []segment
}

// maxSegments bounds a pattern so its states fit the mask.
const maxSegments = 63

func compilePattern(p string) *pattern {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	c := &pattern{text: p}
	for _, s := range parts {
		c.segs = append(c.segs, compileSegment(s))
	}
	return c
}

type states uint64

// start is the state set before any segment.
func (p *pattern) start() states { return p.closure(1) }

// closure adds the states reachable without consuming a segment: a "**"
// may match nothing.
func (p *pattern) closure(st states) states {
	for i, g := range p.segs {
		if st&(1<<i) != 0 && g.kind == segDeep {
			st |= 1 << (i + 1)
		}
	}
	return st
}

// step consumes one path segment.
func (p *pattern) step(st states, name string) states {
	var next states
	for i, g := range p.segs {
		if st&(1<<i) == 0 {
			continue
		}
		if g.kind == segDeep {
			next |= 1 << i // ** consumes this segment and stays
		} else if g.match(name) {
			next |= 1 << (i + 1)
		}
	}
	return p.closure(next)
}

// accepts reports whether the segments consumed so far match the whole pattern.
func (p *pattern) accepts(st states) bool { return st&(1<<len(p.segs)) != 0 }
