package darwin

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// errNeverMatches is returned for a glob no name can match (a class that
// holds only "/"): a rule made of it would name nothing, so it is left out.
var errNeverMatches = errors.New("the pattern matches no name")

// globRegex converts an absolute glob, as workspace.Match reads it, into a
// POSIX extended regular expression matching the same names: `*`, `?` and
// `[...]` within one segment (with "[!" as well as "[^" negation and `\`
// escapes), `**` as a whole segment across any number of segments, zero
// included. With subtree set, the expression also matches everything below
// each match, as a bind mount of a matched directory does on Linux.
//
// Seatbelt's matcher is assumed to read bracket expressions as POSIX says
// (a backslash in one is literal) and to work on bytes: `?` and a class
// match one byte, so they do not match a character outside ASCII, where
// workspace.Match takes one rune.
func globRegex(pattern string, subtree bool) (string, error) {
	if !strings.HasPrefix(pattern, "/") {
		return "", fmt.Errorf("%q is not absolute", pattern)
	}
	segs := strings.Split(pattern, "/")[1:]
	var b strings.Builder
	b.WriteByte('^')
	deepTail := false
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		if seg == "**" {
			for i+1 < len(segs) && segs[i+1] == "**" {
				i++
			}
			// Any number of whole segments, zero included: the next
			// segment (if any) brings its own "/".
			b.WriteString("(/.*)?")
			deepTail = i == len(segs)-1
			continue
		}
		if strings.Contains(seg, "**") {
			return "", fmt.Errorf("%q: ** must be a whole path segment", pattern)
		}
		re, err := segmentRegex(seg)
		if err != nil {
			if errors.Is(err, errNeverMatches) {
				return "", err
			}
			return "", fmt.Errorf("%q: %w", pattern, err)
		}
		b.WriteByte('/')
		b.WriteString(re)
	}
	if subtree && !deepTail {
		b.WriteString("(/.*)?")
	}
	b.WriteByte('$')
	return b.String(), nil
}

// segmentRegex converts one segment (no "/", not "**").
func segmentRegex(seg string) (string, error) {
	seg = strings.ReplaceAll(seg, "[!", "[^") // as workspace's shellClass does
	var b strings.Builder
	for i := 0; i < len(seg); {
		switch c := seg[i]; c {
		case '*':
			b.WriteString("[^/]*")
			i++
		case '?':
			b.WriteString("[^/]")
			i++
		case '\\':
			if i+1 >= len(seg) {
				return "", errors.New("a trailing backslash escapes nothing")
			}
			r, n := utf8.DecodeRuneInString(seg[i+1:])
			b.WriteString(regexLiteral(string(r)))
			i += 1 + n
		case '[':
			cls, n, err := parseClass(seg[i:])
			if err != nil {
				return "", err
			}
			re, err := cls.regex()
			if err != nil {
				return "", err
			}
			b.WriteString(re)
			i += n
		default:
			r, n := utf8.DecodeRuneInString(seg[i:])
			if r == utf8.RuneError && n == 1 {
				return "", errors.New("invalid UTF-8")
			}
			b.WriteString(regexLiteral(string(r)))
			i += n
		}
	}
	return b.String(), nil
}

type runeRange struct{ lo, hi rune }

type charClass struct {
	negated bool
	ranges  []runeRange
}

// parseClass reads "[...]" at the start of s with path.Match's grammar:
// an optional "^", then one or more ranges `c` or `lo-hi` (each end a
// character other than "-" and "]", or `\` and any character), then "]".
// It returns the class and the bytes it took.
func parseClass(s string) (charClass, int, error) {
	bad := fmt.Errorf("malformed character class in %q", s)
	var cls charClass
	i := 1
	if i < len(s) && s[i] == '^' {
		cls.negated = true
		i++
	}
	end := func(i int) (rune, int, error) {
		if i >= len(s) || s[i] == '-' || s[i] == ']' {
			return 0, 0, bad
		}
		if s[i] == '\\' {
			i++
			if i >= len(s) {
				return 0, 0, bad
			}
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return 0, 0, bad
		}
		return r, i + n, nil
	}
	for {
		if i < len(s) && s[i] == ']' && len(cls.ranges) > 0 {
			return cls, i + 1, nil
		}
		lo, j, err := end(i)
		if err != nil {
			return cls, 0, err
		}
		hi := lo
		if j < len(s) && s[j] == '-' {
			if hi, j, err = end(j + 1); err != nil {
				return cls, 0, err
			}
		}
		if j >= len(s) {
			return cls, 0, bad
		}
		// path.Match accepts lo > hi (it matches nothing); so does this.
		if lo <= hi {
			cls.ranges = append(cls.ranges, runeRange{lo, hi})
		}
		i = j
	}
}

// bracketSpecial are the characters a POSIX bracket expression treats
// specially by position; they are never made the end of a range.
const bracketSpecial = `]^-[\`

// regex renders the class as a POSIX bracket expression that never matches
// "/" (names reach a class one segment at a time). Special characters go
// where POSIX reads them literally: "]" first, "[" and "\" after the
// ranges, "^" never first, "-" last.
func (c charClass) regex() (string, error) {
	var specials = map[rune]bool{}
	var plain []runeRange
	for _, r := range c.ranges {
		lo, hi := r.lo, r.hi
		// "/" never reaches a class: a positive class drops it, a
		// negated one excludes it below.
		if lo <= '/' && '/' <= hi {
			if lo < '/' {
				plain = append(plain, peel(runeRange{lo, '/' - 1}, specials)...)
			}
			lo = '/' + 1
			if lo > hi {
				continue
			}
		}
		plain = append(plain, peel(runeRange{lo, hi}, specials)...)
	}
	sort.Slice(plain, func(i, j int) bool { return plain[i].lo < plain[j].lo })
	var b strings.Builder
	b.WriteByte('[')
	if c.negated {
		b.WriteByte('^')
	}
	first := true
	if specials[']'] {
		b.WriteByte(']')
		first = false
	}
	caret := specials['^']
	if caret && c.negated {
		// After "[^", a second "^" is literal.
		b.WriteByte('^')
		caret, first = false, false
	}
	for _, r := range plain {
		b.WriteRune(r.lo)
		if r.hi > r.lo {
			if r.hi > r.lo+1 {
				b.WriteByte('-')
			}
			b.WriteRune(r.hi)
		}
		first = false
	}
	for _, s := range []rune{'[', '\\'} {
		if specials[s] {
			b.WriteRune(s)
			first = false
		}
	}
	if caret && !first {
		b.WriteByte('^')
		caret = false
	}
	if c.negated {
		b.WriteByte('/')
		first = false
	}
	if specials['-'] {
		b.WriteByte('-')
		first = false
	}
	if caret {
		// A positive class of "^" (and perhaps "-"): "^" may not be
		// first, so it follows the "-", which is literal in first place.
		if !specials['-'] {
			return `\^`, nil
		}
		b.WriteByte('^')
		first = false
	}
	if first {
		return "", errNeverMatches // a positive class that held only "/"
	}
	b.WriteByte(']')
	return b.String(), nil
}

// peel splits off the special characters at the ends of r (a range's ends
// must be plain), recording them in specials. A special character inside
// a range is covered by the range and needs nothing.
func peel(r runeRange, specials map[rune]bool) []runeRange {
	isSpecial := func(x rune) bool { return strings.ContainsRune(bracketSpecial, x) }
	for r.lo <= r.hi && isSpecial(r.lo) {
		specials[r.lo] = true
		r.lo++
	}
	for r.hi >= r.lo && isSpecial(r.hi) {
		specials[r.hi] = true
		r.hi--
	}
	if r.lo > r.hi {
		return nil
	}
	return []runeRange{r}
}
