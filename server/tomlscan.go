package server

import "strings"

// A line-level reading of a TOML policy file, enough for completion,
// hover and symbols while the file is being typed (and so often invalid):
// which table a line is in, whether it is a header, a key or a value.

// tomlLine is what one line holds.
type tomlLine struct {
	header string // the table name when the line is a [header]
	key    string // the key when the line is "key = ..."
	keyCol int    // byte offset of the key in the line
	eq     int    // byte offset of "=", -1 when none
}

func scanLine(line string) tomlLine {
	l := tomlLine{eq: -1}
	code := stripTOMLComment(line)
	t := strings.TrimSpace(code)
	if strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "[[") {
		l.header = tableName(t)
		return l
	}
	k, _, ok := strings.Cut(code, "=")
	if !ok {
		return l
	}
	l.eq = len(k)
	l.keyCol = len(k) - len(strings.TrimLeft(k, " \t"))
	l.key = unquoteTOMLKey(strings.TrimSpace(k))
	return l
}

// tableAt is the table that line i (0-based) belongs to: the last header
// above it; "" before any.
func tableAt(lines []string, i int) string {
	for j := i; j >= 0; j-- {
		if j < len(lines) {
			if h := scanLine(lines[j]).header; h != "" {
				return h
			}
		}
	}
	return ""
}

// inValue reports whether line i continues a multi-line value begun above
// (an array left open): its text is not a key there.
func inValue(lines []string, i int) bool {
	depth := 0
	for j := 0; j < i && j < len(lines); j++ {
		l := scanLine(lines[j])
		if l.header != "" {
			depth = 0
			continue
		}
		code := stripTOMLComment(lines[j])
		if depth == 0 && l.eq < 0 {
			continue
		}
		from := 0
		if depth == 0 {
			from = l.eq + 1
		}
		depth += bracketDepth(code[from:])
		if depth < 0 {
			depth = 0
		}
	}
	return depth > 0
}

// bracketDepth is how many [ and { the text opens minus those it closes,
// outside strings.
func bracketDepth(s string) int {
	d := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}
