package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// PolicyError is an invalid policy: every problem found, with positions.
type PolicyError struct {
	Diagnostics []Diagnostic
}

func (e *PolicyError) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// File is one parsed policy file: its rules, each with its position.
type File struct {
	Path string
	Hash string // hex SHA-256 of the content

	Filesystem Filesystem
	Network    Network
	HasUnknown bool // network.unknown was given
	Env        Env
	Limits     Limits
	Git        Git
	HasForce   bool // git.allow_force was given
	HasDelete  bool // git.allow_delete was given
	// LimitSources says where each limit was set ("timeout", "memory", "processes").
	LimitSources map[string]Source

	warnings []Diagnostic
}

// Warnings are valid but risky rules.
func (f *File) Warnings() []Diagnostic { return f.warnings }

type valueKind int

const (
	kindString valueKind = iota + 1
	kindStrings
	kindStringMap
	kindInt
	kindSize // a string with a unit, or a number of bytes
	kindBool
)

// Parse parses one policy file strictly: unknown keys, wrong types, bad
// globs, hosts, durations and sizes are errors at their exact position
// (1-based line and byte column). root anchors relative paths. On error it
// returns a *PolicyError holding every problem found.
func Parse(file string, data []byte, dirs Dirs, root string) (*File, error) {
	sum := sha256.Sum256(data)
	f := &File{Path: file, Hash: hex.EncodeToString(sum[:]), LimitSources: map[string]Source{}}
	p := &parser{file: file, dirs: dirs, root: root}

	if i := strings.IndexByte(string(data), 0); i >= 0 {
		p.loc = &locator{src: string(data), lineStarts: lineStarts(data)}
		p.errorAt(p.loc.at(i), "the file holds a NUL byte")
		return nil, p.err()
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		p.loc = &locator{src: string(data), lineStarts: lineStarts(data)}
		var pe toml.ParseError
		switch {
		case errors.As(err, &pe) && pe.Position.Start > 0 && pe.Position.Start <= len(data):
			// The byte offset is exact; the line and column toml
			// reports are not always (a missing "]" is put on the
			// next line).
			p.errorAt(p.loc.at(pe.Position.Start), pe.Message)
		case errors.As(err, &pe):
			p.errorAt(p.loc.clamp(pos{pe.Position.Line, pe.Position.Col}), pe.Message)
		default:
			p.errorAt(pos{1, 1}, err.Error())
		}
		return nil, p.err()
	}
	p.loc = newLocator(data)
	tables := p.tables(doc)

	fs := &f.Filesystem
	fs.AllowWrite = p.paths(tables, "filesystem", "allow_write")
	fs.DenyWrite = p.paths(tables, "filesystem", "deny_write")
	fs.DenyRead = p.paths(tables, "filesystem", "deny_read")
	fs.AllowRead = p.paths(tables, "filesystem", "allow_read")
	fs.Cache = p.paths(tables, "filesystem", "cache")
	for _, r := range fs.Cache {
		if HasGlob(r.Path) {
			p.errorAt(pos{r.Source.Line, r.Source.Col}, "cache takes directory paths, not globs")
		}
	}

	f.Network.Allow = p.hosts(tables, "network", "allow")
	f.Network.Deny = p.hosts(tables, "network", "deny")
	f.Network.AllowUnixSockets = p.paths(tables, "network", "allow_unix_sockets")
	for _, r := range f.Network.AllowUnixSockets {
		if HasGlob(r.Path) {
			p.errorAt(pos{r.Source.Line, r.Source.Col}, "allow_unix_sockets takes socket paths, not globs")
		}
	}
	for i, s := range p.strings(tables, "network", "publish") {
		src := p.source(p.loc.elem([]string{"network", "publish"}, i))
		port, err := strconv.Atoi(s)
		if err != nil || port < 1 || port > 65535 || strconv.Itoa(port) != s {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("network.publish %q: want a port number from 1 to 65535, like \"5173\"", s))
			continue
		}
		f.Network.Publish = append(f.Network.Publish, PortRule{Port: port, Source: src})
	}
	if u, ok := tables["network"]["unknown"].(string); ok {
		src := p.source(p.loc.value([]string{"network", "unknown"}))
		switch Unknown(u) {
		case UnknownAsk, UnknownDeny:
			f.Network.Unknown, f.Network.UnknownSource, f.HasUnknown = Unknown(u), src, true
		default:
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("network.unknown must be \"ask\" or \"deny\", not %q", u))
		}
	}

	for i, name := range p.strings(tables, "env", "pass") {
		src := p.source(p.loc.elem([]string{"env", "pass"}, i))
		if !validEnvName(name) {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("%q is not an environment variable name", name))
			continue
		}
		f.Env.Pass = append(f.Env.Pass, EnvPass{Name: name, Source: src})
	}
	set, _ := tables["env"]["set"].(map[string]any)
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := []string{"env", "set", name}
		src := p.source(p.loc.name(key))
		v, ok := set[name].(string)
		switch {
		case !ok:
			p.errorAt(p.loc.value(key), fmt.Sprintf("env.set.%s: want a string, got %s", name, typeName(set[name])))
		case !validEnvName(name):
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("%q is not an environment variable name", name))
		case strings.IndexByte(v, 0) >= 0:
			p.errorAt(p.loc.value(key), fmt.Sprintf("env.set.%s holds a NUL byte", name))
		default:
			f.Env.Set = append(f.Env.Set, EnvVar{Name: name, Value: v, Source: src})
		}
	}

	p.limits(f, tables)
	p.gitTable(f, tables)
	if len(p.diags) > 0 {
		return nil, p.err()
	}
	f.warnings = p.warnings(f)
	return f, nil
}

func lineStarts(data []byte) []int {
	out := []int{0}
	for i, c := range data {
		if c == '\n' {
			out = append(out, i+1)
		}
	}
	return out
}

// tables checks the document against the schema: unknown keys and values
// of the wrong kind are errors; what is left is well typed.
func (p *parser) tables(doc map[string]any) map[string]map[string]any {
	schema, tableNames := keyKinds(), tableList()
	out := map[string]map[string]any{}
	for _, name := range sortedKeys(doc) {
		keys, known := schema[name]
		if !known {
			p.errorAt(p.loc.name([]string{name}), fmt.Sprintf("unknown key %q (known: %s)", name, tableNames))
			continue
		}
		t, ok := doc[name].(map[string]any)
		if !ok {
			p.errorAt(p.loc.value([]string{name}), fmt.Sprintf("%s: want a table ([%s]), got %s", name, name, typeName(doc[name])))
			continue
		}
		out[name] = map[string]any{}
		for _, k := range sortedKeys(t) {
			kind, known := keys[k]
			path := []string{name, k}
			if !known {
				p.errorAt(p.loc.name(path), fmt.Sprintf("unknown key %q in [%s] (known: %s)", k, name, strings.Join(sortedKeys(keys), ", ")))
				continue
			}
			if p.checkKind(path, t[k], kind) {
				out[name][k] = t[k]
			}
		}
	}
	return out
}

// checkKind reports whether v is of kind, else records an error at the
// value (or the offending element).
func (p *parser) checkKind(path []string, v any, kind valueKind) bool {
	key := strings.Join(path, ".")
	bad := func(at pos, want string, got any) bool {
		p.errorAt(at, fmt.Sprintf("%s: want %s, got %s", key, want, typeName(got)))
		return false
	}
	switch kind {
	case kindString:
		if _, ok := v.(string); !ok {
			return bad(p.loc.value(path), "a string", v)
		}
	case kindBool:
		if _, ok := v.(bool); !ok {
			return bad(p.loc.value(path), "true or false", v)
		}
	case kindInt:
		if _, ok := v.(int64); !ok {
			return bad(p.loc.value(path), "an integer", v)
		}
	case kindSize:
		switch v.(type) {
		case string, int64:
		default:
			return bad(p.loc.value(path), `a size like "8GiB" or a number of bytes`, v)
		}
	case kindStrings:
		a, ok := v.([]any)
		if !ok {
			return bad(p.loc.value(path), "an array of strings", v)
		}
		good := true
		for i, e := range a {
			if _, ok := e.(string); !ok {
				good = bad(p.loc.elem(path, i), "an array of strings", e)
			}
		}
		return good
	case kindStringMap:
		if _, ok := v.(map[string]any); !ok {
			return bad(p.loc.value(path), "a table of strings ({ NAME = \"value\" })", v)
		}
	}
	return true
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// strings returns the (already checked) array at table.key.
func (p *parser) strings(tables map[string]map[string]any, table, key string) []string {
	a, _ := tables[table][key].([]any)
	out := make([]string, len(a))
	for i, e := range a {
		out[i], _ = e.(string)
	}
	return out
}

type parser struct {
	file  string
	loc   *locator
	dirs  Dirs
	root  string
	diags []Diagnostic
}

func (p *parser) errorAt(at pos, msg string) {
	p.diags = append(p.diags, Diagnostic{File: p.file, Line: at.line, Col: at.col, Severity: SeverityError, Message: msg})
}

func (p *parser) err() error {
	sort.SliceStable(p.diags, func(i, j int) bool {
		if p.diags[i].Line != p.diags[j].Line {
			return p.diags[i].Line < p.diags[j].Line
		}
		return p.diags[i].Col < p.diags[j].Col
	})
	return &PolicyError{Diagnostics: p.diags}
}

func (p *parser) source(at pos) Source { return Source{File: p.file, Line: at.line, Col: at.col} }

func (p *parser) paths(tables map[string]map[string]any, table, key string) []PathRule {
	var out []PathRule
	for i, s := range p.strings(tables, table, key) {
		src := p.source(p.loc.elem([]string{table, key}, i))
		abs, err := ExpandPath(s, p.root, p.dirs.Home)
		if err != nil {
			p.errorAt(pos{src.Line, src.Col}, err.Error())
			continue
		}
		out = append(out, PathRule{Pattern: s, Path: abs, Source: src})
	}
	return out
}

func (p *parser) hosts(tables map[string]map[string]any, table, key string) []HostRule {
	var out []HostRule
	for i, s := range p.strings(tables, table, key) {
		src := p.source(p.loc.elem([]string{table, key}, i))
		r, err := ParseHostRule(s)
		if err != nil {
			p.errorAt(pos{src.Line, src.Col}, err.Error())
			continue
		}
		r.Source = src
		out = append(out, r)
	}
	return out
}

func (p *parser) limits(f *File, tables map[string]map[string]any) {
	lim := tables["limits"]
	if t, ok := lim["timeout"].(string); ok {
		src := p.source(p.loc.value([]string{"limits", "timeout"}))
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("limits.timeout %q: want a positive duration like \"15m\" or \"90s\"", t))
		} else {
			f.Limits.Timeout, f.LimitSources["timeout"] = d, src
		}
	}
	if m, ok := lim["memory"]; ok {
		src := p.source(p.loc.value([]string{"limits", "memory"}))
		n, err := parseSize(m)
		if err != nil {
			p.errorAt(pos{src.Line, src.Col}, "limits.memory: "+err.Error())
		} else {
			f.Limits.Memory, f.LimitSources["memory"] = n, src
		}
	}
	if n, ok := lim["processes"].(int64); ok {
		src := p.source(p.loc.value([]string{"limits", "processes"}))
		if n < 1 || n > 1<<22 {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("limits.processes %d: want 1 to %d", n, 1<<22))
		} else {
			f.Limits.Processes, f.LimitSources["processes"] = int(n), src
		}
	}
}

var sizeRE = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B?|B)?\s*$`)

// parseSize reads "8GiB", "512MB", "1.5G" or a number of bytes.
func parseSize(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		if x <= 0 {
			return 0, fmt.Errorf("%d: want a positive size", x)
		}
		return x, nil
	case string:
		m := sizeRE.FindStringSubmatch(x)
		if m == nil {
			return 0, fmt.Errorf("%q: want a size like \"8GiB\" or \"512MB\"", x)
		}
		n, _ := strconv.ParseFloat(m[1], 64)
		unit := strings.TrimSuffix(m[2], "B")
		mult := map[string]float64{
			"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
			"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
		}[unit]
		b := n * mult
		if b < 1 || b > 1<<62 {
			return 0, fmt.Errorf("%q: out of range", x)
		}
		return int64(b), nil
	}
	return 0, fmt.Errorf("want a string like \"8GiB\" or a number of bytes")
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validEnvName(s string) bool { return envNameRE.MatchString(s) }

// ExpandPath makes a policy path absolute: "~" is home, relative paths
// are under root; the result is cleaned and its glob validated.
//
// As in .gitignore, a relative pattern with no slash but a trailing one
// (".env", "*.pem", "node_modules/") names that name at any depth below
// the root (root/**/NAME); one with a slash ("secrets/**", "config/prod.env",
// "./x") is anchored at the root. "." and ".." keep their meaning.
func ExpandPath(s, root, home string) (string, error) {
	switch {
	case s == "":
		return "", errors.New("empty path")
	case strings.ContainsAny(s, "\x00\n\r"):
		return "", fmt.Errorf("path %q holds a control character", s)
	case s == "~" || strings.HasPrefix(s, "~/"):
		if home == "" {
			return "", fmt.Errorf("path %q: no home directory", s)
		}
		s = filepath.Join(home, s[1:])
	case strings.HasPrefix(s, "~"):
		return "", fmt.Errorf("path %q: only ~ and ~/… are understood, not ~user", s)
	case !filepath.IsAbs(s):
		if !filepath.IsAbs(root) {
			return "", fmt.Errorf("path %q: relative, but no absolute workspace root to anchor it", s)
		}
		if AnyDepth(s) {
			s = root + "/**/" + s
		} else {
			s = filepath.Join(root, s)
		}
	}
	s = filepath.Clean(s)
	if err := ValidGlob(s); err != nil {
		return "", err
	}
	return s, nil
}

// AnyDepth reports whether the relative policy path s matches its name at
// any depth (see ExpandPath).
func AnyDepth(s string) bool {
	name := strings.TrimSuffix(s, "/")
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/") && !strings.HasPrefix(s, "~")
}
