package workspace

import (
	"sort"
	"strconv"
	"strings"
)

// locator knows where every key, value and array element of a policy file
// sits. BurntSushi/toml keeps key positions private and has none for array
// elements, and an editor squiggle on the wrong spot is worse than none, so
// we scan the text ourselves. The scanner runs only on text toml.Decode
// accepted, but it never panics or loops on anything else either.
type locator struct {
	src        string
	lineStarts []int            // byte offset of each line's first byte
	keys       map[string]where // by keyID(path)
}

// where is the position of one key: its name, the first byte of its value,
// and, for arrays, the first byte of each element.
type where struct {
	name, value int // byte offsets
	elems       []int
}

// pos is a 1-based line and byte column.
type pos struct{ line, col int }

func keyID(path []string) string { return strings.Join(path, "\x00") }

func newLocator(data []byte) *locator {
	l := &locator{src: string(data), keys: map[string]where{}, lineStarts: []int{0}}
	for i := 0; i < len(l.src); i++ {
		if l.src[i] == '\n' {
			l.lineStarts = append(l.lineStarts, i+1)
		}
	}
	s := &scanner{l: l}
	s.document()
	return l
}

// at turns a byte offset into a position inside the file.
func (l *locator) at(off int) pos {
	if off < 0 {
		off = 0
	}
	if off > len(l.src) {
		off = len(l.src)
	}
	i := sort.Search(len(l.lineStarts), func(i int) bool { return l.lineStarts[i] > off }) - 1
	return pos{i + 1, off - l.lineStarts[i] + 1}
}

// clamp moves a position reported past the end of a line or of the file
// back inside it.
func (l *locator) clamp(p pos) pos {
	if p.line < 1 {
		p.line = 1
	}
	if p.line > len(l.lineStarts) {
		p.line = len(l.lineStarts)
	}
	end := len(l.src)
	if p.line < len(l.lineStarts) {
		end = l.lineStarts[p.line] - 1
	}
	if max := end - l.lineStarts[p.line-1] + 1; p.col > max {
		p.col = max
	}
	if p.col < 1 {
		p.col = 1
	}
	return p
}

// name is where key's name is written (a table header for a table); the
// file's start when the key is not found.
func (l *locator) name(path []string) pos {
	if w, ok := l.keys[keyID(path)]; ok {
		return l.at(w.name)
	}
	return pos{1, 1}
}

// value is where key's value starts.
func (l *locator) value(path []string) pos {
	if w, ok := l.keys[keyID(path)]; ok {
		return l.at(w.value)
	}
	return pos{1, 1}
}

// elem is where the i-th element of the array at key starts.
func (l *locator) elem(path []string, i int) pos {
	w, ok := l.keys[keyID(path)]
	if !ok {
		return pos{1, 1}
	}
	if i < len(w.elems) {
		return l.at(w.elems[i])
	}
	return l.at(w.value)
}

// scanner walks TOML text recording positions into its locator.
type scanner struct {
	l *locator
	i int
}

func (s *scanner) eof() bool { return s.i >= len(s.l.src) }
func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.l.src[s.i]
}

func (s *scanner) record(path []string, name, value int) {
	id := keyID(path)
	if _, ok := s.l.keys[id]; !ok {
		s.l.keys[id] = where{name: name, value: value}
	}
}

// skipBlank skips spaces and tabs, and newlines and comments when lines is set.
func (s *scanner) skipBlank(lines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t':
			s.i++
		case lines && (c == '\n' || c == '\r'):
			s.i++
		case lines && c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

func (s *scanner) document() {
	var table []string
	for {
		s.skipBlank(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.peek() == '[' {
			s.i++
			if s.peek() == '[' { // an array of tables: none in our schema
				s.i++
			}
			table = s.key()
			s.record(table, start, start)
			s.skipBlank(false)
			for !s.eof() && s.peek() == ']' {
				s.i++
			}
			continue
		}
		before := s.i
		s.keyValue(table)
		if s.i == before { // not TOML we understand: skip the line
			for !s.eof() && s.peek() != '\n' {
				s.i++
			}
		}
	}
}

// key reads a possibly dotted, possibly quoted key.
func (s *scanner) key() []string {
	var parts []string
	for {
		s.skipBlank(false)
		switch c := s.peek(); {
		case c == '"' || c == '\'':
			start := s.i
			s.skipString()
			parts = append(parts, unquote(s.l.src[start:s.i]))
		case isBareKey(c):
			start := s.i
			for !s.eof() && isBareKey(s.peek()) {
				s.i++
			}
			parts = append(parts, s.l.src[start:s.i])
		default:
			return parts
		}
		s.skipBlank(false)
		if s.peek() != '.' {
			return parts
		}
		s.i++
	}
}

func isBareKey(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func unquote(q string) string {
	if strings.HasPrefix(q, "'") {
		return strings.Trim(q, "'")
	}
	if u, err := strconv.Unquote(q); err == nil {
		return u
	}
	return strings.Trim(q, `"`)
}

// keyValue reads "key = value" under prefix.
func (s *scanner) keyValue(prefix []string) {
	start := s.i
	k := s.key()
	if len(k) == 0 {
		return
	}
	s.skipBlank(false)
	if s.peek() != '=' {
		return
	}
	s.i++
	s.skipBlank(false)
	path := append(append([]string(nil), prefix...), k...)
	// Intermediate tables of a dotted key are "defined" at the key too.
	for n := len(prefix) + 1; n < len(path); n++ {
		s.record(path[:n], start, start)
	}
	s.record(path, start, s.i)
	s.value(path)
}

func (s *scanner) value(path []string) {
	switch s.peek() {
	case '"', '\'':
		s.skipString()
	case '[':
		s.i++
		var elems []int
		for n := 0; ; n++ {
			s.skipBlank(true)
			if s.eof() || s.peek() == ']' {
				break
			}
			elems = append(elems, s.i)
			before := s.i
			s.value(append(path, "#"+strconv.Itoa(n)))
			s.skipBlank(true)
			if s.peek() == ',' {
				s.i++
			} else if s.i == before {
				break
			}
		}
		if !s.eof() {
			s.i++
		}
		if w, ok := s.l.keys[keyID(path)]; ok && w.elems == nil {
			w.elems = elems
			s.l.keys[keyID(path)] = w
		}
	case '{':
		s.i++
		for {
			s.skipBlank(false)
			if s.eof() || s.peek() == '}' {
				break
			}
			before := s.i
			s.keyValue(path)
			s.skipBlank(false)
			if s.peek() == ',' {
				s.i++
			} else if s.i == before {
				break
			}
		}
		if !s.eof() {
			s.i++
		}
	default:
		// A number, boolean or date: up to the next delimiter.
		for !s.eof() && !strings.ContainsRune(",]}#\n\r", rune(s.peek())) {
			s.i++
		}
	}
}

// skipString moves past the (possibly multi-line) string starting at s.i.
func (s *scanner) skipString() {
	src := s.l.src
	q := src[s.i]
	if strings.HasPrefix(src[s.i:], strings.Repeat(string(q), 3)) {
		s.i += 3
		for !s.eof() {
			if q == '"' && src[s.i] == '\\' {
				s.i += 2
				continue
			}
			if strings.HasPrefix(src[s.i:], strings.Repeat(string(q), 3)) {
				s.i += 3
				// Up to two more quotes may belong to the content.
				for n := 0; n < 2 && s.peek() == q; n++ {
					s.i++
				}
				return
			}
			s.i++
		}
		return
	}
	s.i++
	for !s.eof() {
		c := src[s.i]
		if q == '"' && c == '\\' {
			s.i += 2
			continue
		}
		s.i++
		if c == q || c == '\n' {
			return
		}
	}
}
