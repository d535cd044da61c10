package workspace

import (
	"strings"
)

// locator finds where keys and array elements sit in a policy file's
// text. BurntSushi/toml keeps key positions private, and an editor
// squiggle on the wrong line is worse than none, so we scan the (already
// valid) TOML ourselves: table headers, key lines, string elements.
type locator struct {
	lines []string
}

func newLocator(data []byte) *locator {
	return &locator{lines: strings.Split(string(data), "\n")}
}

// clamp moves a position reported past the end of a line or of the file
// back inside it.
func (l *locator) clamp(p pos) pos {
	if p.line < 1 {
		p.line = 1
	}
	if p.line > len(l.lines) {
		p.line = len(l.lines)
	}
	if max := len(l.lines[p.line-1]) + 1; p.col > max {
		p.col = max
	}
	if p.col < 1 {
		p.col = 1
	}
	return p
}

// pos is a 1-based line and column.
type pos struct{ line, col int }

// key finds key (a path like ["network","allow"]) and returns the position
// of its name and of the first character after its "=".
func (l *locator) key(path []string) (name pos, value pos, ok bool) {
	table := ""
	for i, raw := range l.lines {
		line := strings.TrimSpace(stripComment(raw))
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(strings.TrimSpace(strings.Trim(line, "[]")), " ")
			table = unquoteKey(strings.ReplaceAll(table, " ", ""))
			if table == strings.Join(path, ".") {
				col := strings.Index(raw, "[") + 1
				return pos{i + 1, col}, pos{i + 1, col}, true
			}
			continue
		}
		eq := equalsIndex(raw)
		if eq < 0 {
			continue
		}
		k := strings.TrimSpace(raw[:eq])
		full := unquoteKey(k)
		if table != "" {
			full = table + "." + full
		}
		want := strings.Join(path, ".")
		if full == want || strings.HasPrefix(want, full+".") && isInlineTable(raw[eq+1:]) {
			col := strings.Index(raw, k) + 1
			if full != want {
				// The key sits inside an inline table on this line: find it there.
				last := path[len(path)-1]
				if j := strings.Index(raw[eq+1:], last); j >= 0 {
					col = eq + 1 + j + 1
				}
			}
			return pos{i + 1, col}, l.after(i, eq+1), true
		}
	}
	return pos{}, pos{}, false
}

func isInlineTable(rest string) bool { return strings.HasPrefix(strings.TrimSpace(rest), "{") }

// after is the position of the first non-space character at or after
// (line i, byte col), crossing lines.
func (l *locator) after(i, col int) pos {
	for ; i < len(l.lines); i, col = i+1, 0 {
		s := l.lines[i]
		for j := col; j < len(s); j++ {
			if s[j] != ' ' && s[j] != '\t' {
				return pos{i + 1, j + 1}
			}
		}
	}
	return pos{len(l.lines), 1}
}

// element finds the n-th (0-based) element of the array that starts at
// start (the "["), by counting top-level strings.
func (l *locator) element(start pos, n int) (pos, bool) {
	i, j := start.line-1, start.col-1
	if i >= len(l.lines) || j >= len(l.lines[i]) || l.lines[i][j] != '[' {
		return pos{}, false
	}
	j++
	count := 0
	for ; i < len(l.lines); i, j = i+1, 0 {
		s := l.lines[i]
		for j < len(s) {
			switch c := s[j]; c {
			case '#':
				j = len(s)
				continue
			case ']':
				return pos{}, false
			case '"', '\'':
				if count == n {
					return pos{i + 1, j + 1}, true
				}
				count++
				j = skipString(s, j)
				continue
			}
			j++
		}
	}
	return pos{}, false
}

// skipString returns the index just past the string literal starting at j.
func skipString(s string, j int) int {
	q := s[j]
	for k := j + 1; k < len(s); k++ {
		if q == '"' && s[k] == '\\' {
			k++
			continue
		}
		if s[k] == q {
			return k + 1
		}
	}
	return len(s)
}

// equalsIndex is the byte index of the first "=" outside quotes, or -1.
func equalsIndex(s string) int {
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '#':
			return -1
		case '"', '\'':
			j = skipString(s, j) - 1
		case '=':
			return j
		}
	}
	return -1
}

func stripComment(s string) string {
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '"', '\'':
			j = skipString(s, j) - 1
		case '#':
			return s[:j]
		}
	}
	return s
}

func unquoteKey(k string) string {
	var parts []string
	for _, p := range strings.Split(k, ".") {
		parts = append(parts, strings.Trim(strings.TrimSpace(p), `"'`))
	}
	return strings.Join(parts, ".")
}
