package server

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Insertion is one text insertion: Text goes in at byte Offset.
type Insertion struct {
	Offset int
	Text   string
}

// Apply returns content with the insertion made.
func (in Insertion) Apply(content string) string {
	return content[:in.Offset] + in.Text + content[in.Offset:]
}

// InsertArrayValue computes the smallest insertion that adds the string
// value to the array table.key of a TOML document, keeping every comment
// and the layout: into an existing array, else a new key under an
// existing [table], else a new table at the end. The result is parsed
// again and checked, so a document we cannot edit safely is an error,
// never a broken file.
func InsertArrayValue(content, table, key, value string) (Insertion, error) {
	if strings.ContainsRune(content, 0) {
		return Insertion{}, fmt.Errorf("policy file holds a NUL byte")
	}
	lit := strconv.Quote(value)
	lines := splitLinesKeep(content)
	cur := "" // the table of the current line
	headerLine := -1
	off := 0
	for i, line := range lines {
		lineStart := off
		off += len(line)
		trimmed := strings.TrimSpace(stripTOMLComment(line))
		if strings.HasPrefix(trimmed, "[") {
			cur = tableName(trimmed)
			if cur == table {
				headerLine = i
			}
			continue
		}
		k, _, ok := strings.Cut(trimmed, "=")
		if !ok {
			continue
		}
		k = unquoteTOMLKey(strings.TrimSpace(k))
		if !(cur == table && k == key) && !(cur == "" && k == table+"."+key) {
			continue
		}
		// The key: find its array from the "=" on, possibly over lines.
		eq := lineStart + strings.Index(line, "=")
		ins, err := arrayInsertion(content, eq+1, lit)
		if err != nil {
			return Insertion{}, fmt.Errorf("%s.%s at line %d: %w", table, key, i+1, err)
		}
		return verified(content, ins, table, key, value)
	}
	nl := "\n"
	if strings.Contains(content, "\r\n") {
		nl = "\r\n"
	}
	if headerLine >= 0 {
		// Right under the table header.
		at := 0
		for _, l := range lines[:headerLine+1] {
			at += len(l)
		}
		text := key + " = [" + lit + "]" + nl
		if at == len(content) && !strings.HasSuffix(content, "\n") {
			text = nl + text
		}
		return verified(content, Insertion{Offset: at, Text: text}, table, key, value)
	}
	text := "[" + table + "]" + nl + key + " = [" + lit + "]" + nl
	switch {
	case content == "":
	case strings.HasSuffix(content, "\n\n") || strings.HasSuffix(content, "\r\n\r\n"):
	case strings.HasSuffix(content, "\n"):
		text = nl + text
	default:
		text = nl + nl + text
	}
	return verified(content, Insertion{Offset: len(content), Text: text}, table, key, value)
}

// arrayInsertion finds the array starting after from and inserts lit
// after its last element (or as its only one).
func arrayInsertion(content string, from int, lit string) (Insertion, error) {
	i := from
	for i < len(content) && (content[i] == ' ' || content[i] == '\t') {
		i++
	}
	if i >= len(content) || content[i] != '[' {
		return Insertion{}, fmt.Errorf("value is not an array")
	}
	depth := 0
	lastEnd := -1 // just after the last significant character inside
	lastChar := byte('[')
	for ; i < len(content); i++ {
		c := content[i]
		switch {
		case c == '#':
			for i < len(content) && content[i] != '\n' {
				i++
			}
			continue
		case c == '"' || c == '\'':
			j, err := skipTOMLString(content, i)
			if err != nil {
				return Insertion{}, err
			}
			i = j - 1
			lastEnd, lastChar = j, c
			continue
		case c == '[':
			depth++
			if depth > 1 {
				return Insertion{}, fmt.Errorf("nested arrays are not a host or path list")
			}
			lastEnd, lastChar = i+1, c
			continue
		case c == ']':
			depth--
			if depth == 0 {
				switch lastChar {
				case '[':
					return Insertion{Offset: lastEnd, Text: lit}, nil
				case ',':
					return Insertion{Offset: lastEnd, Text: " " + lit}, nil
				default:
					return Insertion{Offset: lastEnd, Text: ", " + lit}, nil
				}
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		default:
			lastEnd, lastChar = i+1, c
		}
	}
	return Insertion{}, fmt.Errorf("unterminated array")
}

func skipTOMLString(s string, i int) (int, error) {
	q := s[i]
	if strings.HasPrefix(s[i:], strings.Repeat(string(q), 3)) {
		end := strings.Index(s[i+3:], strings.Repeat(string(q), 3))
		if end < 0 {
			return 0, fmt.Errorf("unterminated string")
		}
		return i + 3 + end + 3, nil
	}
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q == '"' {
				j++
			}
		case q:
			return j + 1, nil
		case '\n':
			return 0, fmt.Errorf("unterminated string")
		}
	}
	return 0, fmt.Errorf("unterminated string")
}

// verified parses the edited document and checks value landed in
// table.key; anything else is refused.
func verified(content string, ins Insertion, table, key, value string) (Insertion, error) {
	var doc map[string]any
	if _, err := toml.Decode(ins.Apply(content), &doc); err != nil {
		return Insertion{}, fmt.Errorf("the edit would not parse (%v); edit the policy by hand", err)
	}
	t, _ := doc[table].(map[string]any)
	arr, _ := t[key].([]any)
	for _, v := range arr {
		if v == value {
			return ins, nil
		}
	}
	return Insertion{}, fmt.Errorf("cannot add %q to %s.%s safely; edit the policy by hand", value, table, key)
}

func splitLinesKeep(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// stripTOMLComment drops a trailing comment outside strings.
func stripTOMLComment(line string) string {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '#':
			return line[:i]
		case '"', '\'':
			j, err := skipTOMLString(line, i)
			if err != nil {
				return line
			}
			i = j - 1
		}
	}
	return line
}

func tableName(header string) string {
	if strings.HasPrefix(header, "[[") {
		return "\x00array-table"
	}
	name := strings.TrimSuffix(strings.TrimPrefix(header, "["), "]")
	return unquoteTOMLKey(strings.TrimSpace(name))
}

func unquoteTOMLKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '"' || p[0] == '\'') && p[len(p)-1] == p[0] {
			p = p[1 : len(p)-1]
		}
		parts[i] = p
	}
	return strings.Join(parts, ".")
}
