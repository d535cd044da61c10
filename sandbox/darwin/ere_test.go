package darwin

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// ereToGo checks that re is a POSIX extended regular expression of the
// subset the generator may emit, read with POSIX's rules (a backslash
// escapes only a metacharacter; inside a bracket expression it is literal,
// "]" first is a member, "-" first or last is a member), and translates it
// into Go's syntax so that tests can run it. Anything POSIX leaves
// undefined, or that the generator has no business emitting (intervals,
// back-references, collating elements), is an error.
func ereToGo(re string) (*regexp.Regexp, error) {
	var b strings.Builder
	depth := 0
	prevAtom := false // whether a repetition operator may follow
	for i := 0; i < len(re); {
		c := re[i]
		switch c {
		case '\\':
			if i+1 >= len(re) || !strings.ContainsRune(ereMeta, rune(re[i+1])) {
				return nil, fmt.Errorf("%q: backslash at %d escapes no metacharacter (undefined in POSIX)", re, i)
			}
			b.WriteByte('\\')
			b.WriteByte(re[i+1])
			i += 2
			prevAtom = true
		case '[':
			cls, n, err := posixBracket(re[i:])
			if err != nil {
				return nil, fmt.Errorf("%q: %v", re, err)
			}
			b.WriteString(cls)
			i += n
			prevAtom = true
		case '(':
			depth++
			b.WriteByte(c)
			i++
			prevAtom = false
		case ')':
			if depth == 0 || !prevAtom {
				return nil, fmt.Errorf("%q: unbalanced or empty group at %d", re, i)
			}
			depth--
			b.WriteByte(c)
			i++
			prevAtom = true
		case '|':
			b.WriteByte(c)
			i++
			prevAtom = false
		case '*', '+', '?':
			if !prevAtom {
				return nil, fmt.Errorf("%q: %c at %d repeats nothing (undefined in POSIX)", re, c, i)
			}
			b.WriteByte(c)
			i++
		case '{', '}':
			return nil, fmt.Errorf("%q: interval or brace at %d", re, i)
		case '.', '^', '$':
			b.WriteByte(c)
			i++
			prevAtom = c == '.'
		default:
			r, n := utf8.DecodeRuneInString(re[i:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += n
			prevAtom = true
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("%q: unbalanced parentheses", re)
	}
	if _, err := syntax.Parse(b.String(), syntax.POSIX); err != nil {
		return nil, fmt.Errorf("%q → %q: %v", re, b.String(), err)
	}
	return regexp.CompilePOSIX(b.String())
}

// posixBracket reads one bracket expression at the start of s and returns
// it in Go's syntax and the bytes it took.
func posixBracket(s string) (string, int, error) {
	i := 1
	neg := false
	if i < len(s) && s[i] == '^' {
		neg = true
		i++
	}
	type rng struct{ lo, hi rune }
	var members []rng
	first := true
	for {
		if i >= len(s) {
			return "", 0, fmt.Errorf("unterminated bracket expression")
		}
		if s[i] == ']' && !first {
			i++
			break
		}
		if s[i] == '[' && i+1 < len(s) && strings.ContainsRune(".:=", rune(s[i+1])) {
			return "", 0, fmt.Errorf("collating element or class in a bracket expression")
		}
		lo, n := utf8.DecodeRuneInString(s[i:])
		i += n
		hi := lo
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			var m int
			hi, m = utf8.DecodeRuneInString(s[i+1:])
			i += 1 + m
			if hi < lo {
				return "", 0, fmt.Errorf("range %c-%c is backwards", lo, hi)
			}
		}
		members = append(members, rng{lo, hi})
		first = false
	}
	var b strings.Builder
	b.WriteByte('[')
	if neg {
		b.WriteByte('^')
	}
	esc := func(r rune) string {
		if strings.ContainsRune(`\]^-[`, r) {
			return `\` + string(r)
		}
		return string(r)
	}
	for _, m := range members {
		b.WriteString(esc(m.lo))
		if m.hi != m.lo {
			b.WriteByte('-')
			b.WriteString(esc(m.hi))
		}
	}
	b.WriteByte(']')
	return b.String(), i, nil
}
