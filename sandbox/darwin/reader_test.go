package darwin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small SBPL reader: enough Scheme to read what the generator writes
// back and check its structure, so that a malformed profile cannot reach a
// Mac unnoticed.

type node struct {
	list []node
	atom string // a symbol or number when !isStr and list == nil
	str  string
	kind byte // '(' list, '"' string, 'a' atom
	pos  int
}

func (n node) head() string {
	if n.kind != '(' || len(n.list) == 0 || n.list[0].kind != 'a' {
		return ""
	}
	return n.list[0].atom
}

func (n node) String() string {
	switch n.kind {
	case '"':
		return strconv.Quote(n.str)
	case 'a':
		return n.atom
	}
	var parts []string
	for _, c := range n.list {
		parts = append(parts, c.String())
	}
	return "(" + strings.Join(parts, " ") + ")"
}

type reader struct {
	s string
	i int
}

// readSBPL reads every top-level form.
func readSBPL(s string) ([]node, error) {
	r := &reader{s: s}
	var forms []node
	for {
		r.space()
		if r.i >= len(r.s) {
			return forms, nil
		}
		n, err := r.form()
		if err != nil {
			return nil, err
		}
		if n.kind != '(' {
			return nil, fmt.Errorf("offset %d: a top-level %s is not a form", n.pos, n)
		}
		forms = append(forms, n)
	}
}

func (r *reader) space() {
	for r.i < len(r.s) {
		switch c := r.s[r.i]; {
		case c == ';':
			for r.i < len(r.s) && r.s[r.i] != '\n' {
				r.i++
			}
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *reader) form() (node, error) {
	r.space()
	if r.i >= len(r.s) {
		return node{}, errors.New("unexpected end: unbalanced parentheses")
	}
	start := r.i
	switch c := r.s[r.i]; c {
	case '(':
		r.i++
		n := node{kind: '(', pos: start}
		for {
			r.space()
			if r.i >= len(r.s) {
				return node{}, fmt.Errorf("offset %d: form never closed", start)
			}
			if r.s[r.i] == ')' {
				r.i++
				return n, nil
			}
			child, err := r.form()
			if err != nil {
				return node{}, err
			}
			n.list = append(n.list, child)
		}
	case ')':
		return node{}, fmt.Errorf("offset %d: unbalanced )", start)
	case '"':
		end, s, err := scanString(r.s[r.i:])
		if err != nil {
			return node{}, fmt.Errorf("offset %d: %v", start, err)
		}
		r.i += end
		return node{kind: '"', str: s, pos: start}, nil
	case '#':
		return node{}, fmt.Errorf("offset %d: # syntax is not expected from the generator", start)
	default:
		for r.i < len(r.s) && !strings.ContainsRune("() \n\t\r;\"", rune(r.s[r.i])) {
			r.i++
		}
		return node{kind: 'a', atom: r.s[start:r.i], pos: start}, nil
	}
}

// scanString reads a string literal at the start of s: the escapes \" \\
// \n \t \r only; a raw control character inside is an error.
func scanString(s string) (int, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			if i+1 > maxString {
				return 0, "", fmt.Errorf("string of %d bytes, longer than sandbox-exec reads", i+1)
			}
			return i + 1, b.String(), nil
		case c == '\\':
			if i+1 >= len(s) {
				return 0, "", errors.New("unterminated escape")
			}
			switch s[i+1] {
			case '"', '\\':
				b.WriteByte(s[i+1])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				return 0, "", fmt.Errorf("unknown escape \\%c", s[i+1])
			}
			i += 2
		case c < 0x20 || c == 0x7f:
			return 0, "", fmt.Errorf("raw control character %#x in a string", c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, "", errors.New("invalid UTF-8 in a string")
			}
			b.WriteString(s[i : i+n])
			i += n
		}
	}
	return 0, "", errors.New("unterminated string")
}

func readString(q string) (string, error) {
	n, s, err := scanString(q)
	if err != nil {
		return "", err
	}
	if n != len(q) {
		return "", fmt.Errorf("trailing bytes after the string")
	}
	return s, nil
}

// operations are the SBPL operations the generator may name, and whether
// path filters apply to them.
var operations = map[string]bool{
	"default": false, "process-exec": true, "process-fork": false, "signal": false, "process-info*": false,
	"sysctl-read": false, "mach-lookup": false, "user-preference-read": false,
	"ipc-posix-sem": false, "ipc-posix-shm": false, "pseudo-tty": false,
	"file-read*": true, "file-read-data": true, "file-read-metadata": true, "file-map-executable": true,
	"file-write*": true, "file-write-data": true, "file-write-unlink": true, "file-write-create": true,
	"file-ioctl": true, "file-link": true,
	"network-outbound": false, "system-socket": false,
}

// checkProfile reads a generated profile and checks its structure: it
// returns the rules, each as its action, operations and filters.
func checkProfile(text string) ([]node, error) {
	forms, err := readSBPL(text)
	if err != nil {
		return nil, err
	}
	if len(forms) < 2 || forms[0].String() != "(version 1)" {
		return nil, errors.New("the profile does not start with (version 1)")
	}
	if h := forms[1]; h.head() != "deny" || len(h.list) < 2 || h.list[1].atom != "default" {
		return nil, fmt.Errorf("the first rule is %s, not (deny default ...)", h)
	}
	for _, f := range forms[1:] {
		if err := checkRule(f); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return forms[1:], nil
}

func checkRule(f node) error {
	action := f.head()
	if action != "allow" && action != "deny" {
		return fmt.Errorf("unknown form %q", action)
	}
	ops, filters := 0, 0
	pathOps := true
	for i, c := range f.list[1:] {
		if c.kind == 'a' {
			if filters > 0 {
				return fmt.Errorf("operation %s after a filter", c.atom)
			}
			pathy, ok := operations[c.atom]
			if !ok {
				return fmt.Errorf("unknown operation %q", c.atom)
			}
			if c.atom == "default" && (action != "deny" || i != 0) {
				return errors.New("default must be denied, alone")
			}
			pathOps = pathOps && pathy
			ops++
			continue
		}
		if c.kind != '(' {
			return fmt.Errorf("unexpected %s", c)
		}
		if c.head() == "with" {
			if action != "deny" || len(c.list) != 3 || c.list[1].atom != "message" || c.list[2].kind != '"' {
				return fmt.Errorf("bad modifier %s", c)
			}
			if i != len(f.list)-2 {
				return errors.New("with message is not last")
			}
			continue
		}
		if err := checkFilter(c, pathOps); err != nil {
			return err
		}
		filters++
	}
	if ops == 0 {
		return errors.New("no operation")
	}
	return nil
}

func oneString(f node) (string, error) {
	if len(f.list) != 2 || f.list[1].kind != '"' {
		return "", fmt.Errorf("%s wants one string", f)
	}
	return f.list[1].str, nil
}

func checkFilter(f node, pathOps bool) error {
	switch h := f.head(); h {
	case "literal", "subpath", "regex":
		if !pathOps {
			return fmt.Errorf("path filter %s on an operation that takes no path", f)
		}
		s, err := oneString(f)
		if err != nil {
			return err
		}
		if h == "regex" {
			if !strings.HasPrefix(s, "^") || !strings.HasSuffix(s, "$") {
				return fmt.Errorf("regex %q is not anchored at both ends", s)
			}
			if _, err := ereToGo(s); err != nil {
				return err
			}
		} else if !strings.HasPrefix(s, "/") {
			return fmt.Errorf("%s of a relative path %q", h, s)
		}
	case "global-name", "sysctl-name", "sysctl-name-prefix":
		_, err := oneString(f)
		return err
	case "target":
		if f.String() != "(target same-sandbox)" {
			return fmt.Errorf("unexpected %s", f)
		}
	case "socket-domain":
		if f.String() != "(socket-domain AF_UNIX)" {
			return fmt.Errorf("unexpected %s", f)
		}
	case "remote":
		if len(f.list) != 3 || f.list[1].kind != 'a' {
			return fmt.Errorf("bad %s", f)
		}
		switch f.list[1].atom {
		case "ip":
			s := f.list[2].str
			host, port, ok := strings.Cut(s, ":")
			if f.list[2].kind != '"' || !ok || host != "localhost" {
				return fmt.Errorf("remote ip %q is not localhost:PORT", s)
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("remote ip %q: bad port", s)
			}
		case "unix-socket":
			pl := f.list[2]
			s, err := oneString(pl)
			if pl.head() != "path-literal" || err != nil || !strings.HasPrefix(s, "/") {
				return fmt.Errorf("bad %s", f)
			}
		default:
			return fmt.Errorf("bad %s", f)
		}
	default:
		return fmt.Errorf("unknown filter %s", f)
	}
	return nil
}
