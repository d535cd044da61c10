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
	// LimitSources says where each limit was set ("timeout", "memory", "processes").
	LimitSources map[string]Source

	warnings []Diagnostic
}

// Warnings are valid but risky rules.
func (f *File) Warnings() []Diagnostic { return f.warnings }

// rawPolicy is the file's schema; unknown keys are caught through
// MetaData.Undecoded.
type rawPolicy struct {
	Filesystem struct {
		AllowWrite []string `toml:"allow_write"`
		DenyWrite  []string `toml:"deny_write"`
		DenyRead   []string `toml:"deny_read"`
		AllowRead  []string `toml:"allow_read"`
	} `toml:"filesystem"`
	Network struct {
		Allow            []string `toml:"allow"`
		Deny             []string `toml:"deny"`
		Unknown          *string  `toml:"unknown"`
		AllowUnixSockets []string `toml:"allow_unix_sockets"`
	} `toml:"network"`
	Env struct {
		Pass []string          `toml:"pass"`
		Set  map[string]string `toml:"set"`
	} `toml:"env"`
	Limits struct {
		Timeout   *string `toml:"timeout"`
		Memory    any     `toml:"memory"`
		Processes *int64  `toml:"processes"`
	} `toml:"limits"`
}

// Parse parses one policy file strictly. root anchors relative paths.
func Parse(file string, data []byte, dirs Dirs, root string) (*File, error) {
	sum := sha256.Sum256(data)
	f := &File{Path: file, Hash: hex.EncodeToString(sum[:]), LimitSources: map[string]Source{}}
	p := &parser{file: file, loc: newLocator(data), dirs: dirs, root: root}

	if strings.IndexByte(string(data), 0) >= 0 {
		p.errorAt(pos{1, 1}, "the file holds a NUL byte")
		return nil, p.err()
	}
	var raw rawPolicy
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.errorAt(p.loc.clamp(pos{pe.Position.Line, pe.Position.Col}), pe.Message)
		} else if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
			// Type errors name only their line.
			n, _ := strconv.Atoi(m[1])
			p.errorAt(p.loc.clamp(pos{n, 1}), strings.TrimPrefix(err.Error(), "toml: "))
		} else {
			p.errorAt(pos{1, 1}, err.Error())
		}
		return nil, p.err()
	}
	for _, k := range md.Undecoded() {
		at, _, _ := p.loc.key(k)
		if at.line == 0 {
			at = pos{1, 1}
		}
		p.errorAt(at, fmt.Sprintf("unknown key %q (known: %s)", k.String(), knownKeys(k)))
	}

	fs := &f.Filesystem
	fs.AllowWrite = p.paths([]string{"filesystem", "allow_write"}, raw.Filesystem.AllowWrite)
	fs.DenyWrite = p.paths([]string{"filesystem", "deny_write"}, raw.Filesystem.DenyWrite)
	fs.DenyRead = p.paths([]string{"filesystem", "deny_read"}, raw.Filesystem.DenyRead)
	fs.AllowRead = p.paths([]string{"filesystem", "allow_read"}, raw.Filesystem.AllowRead)

	f.Network.Allow = p.hosts([]string{"network", "allow"}, raw.Network.Allow)
	f.Network.Deny = p.hosts([]string{"network", "deny"}, raw.Network.Deny)
	f.Network.AllowUnixSockets = p.paths([]string{"network", "allow_unix_sockets"}, raw.Network.AllowUnixSockets)
	for _, r := range f.Network.AllowUnixSockets {
		if HasGlob(r.Path) {
			p.errorAt(pos{r.Source.Line, r.Source.Col}, "allow_unix_sockets takes socket paths, not globs")
		}
	}
	if u := raw.Network.Unknown; u != nil {
		src := p.keySource([]string{"network", "unknown"}, true)
		switch Unknown(*u) {
		case UnknownAsk, UnknownDeny:
			f.Network.Unknown, f.Network.UnknownSource, f.HasUnknown = Unknown(*u), src, true
		default:
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("network.unknown must be \"ask\" or \"deny\", not %q", *u))
		}
	}

	for i, name := range raw.Env.Pass {
		src := p.elemSource([]string{"env", "pass"}, i)
		if !validEnvName(name) {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("%q is not an environment variable name", name))
			continue
		}
		f.Env.Pass = append(f.Env.Pass, EnvPass{Name: name, Source: src})
	}
	names := make([]string, 0, len(raw.Env.Set))
	for name := range raw.Env.Set {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src := p.keySource([]string{"env", "set", name}, false)
		if !validEnvName(name) {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("%q is not an environment variable name", name))
			continue
		}
		if strings.IndexByte(raw.Env.Set[name], 0) >= 0 {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("env.set.%s holds a NUL byte", name))
			continue
		}
		f.Env.Set = append(f.Env.Set, EnvVar{Name: name, Value: raw.Env.Set[name], Source: src})
	}

	p.limits(f, &raw)
	if len(p.diags) > 0 {
		return nil, p.err()
	}
	f.warnings = p.warnings(f)
	return f, nil
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

// keySource is where key sits: its value when atValue, else its name.
func (p *parser) keySource(key []string, atValue bool) Source {
	name, value, ok := p.loc.key(key)
	if !ok {
		return Source{File: p.file, Line: 1, Col: 1}
	}
	if atValue {
		return Source{File: p.file, Line: value.line, Col: value.col}
	}
	return Source{File: p.file, Line: name.line, Col: name.col}
}

func (p *parser) elemSource(key []string, i int) Source {
	_, value, ok := p.loc.key(key)
	if !ok {
		return Source{File: p.file, Line: 1, Col: 1}
	}
	if at, ok := p.loc.element(value, i); ok {
		return Source{File: p.file, Line: at.line, Col: at.col}
	}
	return Source{File: p.file, Line: value.line, Col: value.col}
}

func (p *parser) paths(key []string, in []string) []PathRule {
	var out []PathRule
	for i, s := range in {
		src := p.elemSource(key, i)
		abs, err := ExpandPath(s, p.root, p.dirs.Home)
		if err != nil {
			p.errorAt(pos{src.Line, src.Col}, err.Error())
			continue
		}
		out = append(out, PathRule{Pattern: s, Path: abs, Source: src})
	}
	return out
}

func (p *parser) hosts(key []string, in []string) []HostRule {
	var out []HostRule
	for i, s := range in {
		src := p.elemSource(key, i)
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

func (p *parser) limits(f *File, raw *rawPolicy) {
	if t := raw.Limits.Timeout; t != nil {
		src := p.keySource([]string{"limits", "timeout"}, true)
		d, err := time.ParseDuration(*t)
		if err != nil || d <= 0 {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("limits.timeout %q: want a positive duration like \"15m\" or \"90s\"", *t))
		} else {
			f.Limits.Timeout, f.LimitSources["timeout"] = d, src
		}
	}
	if m := raw.Limits.Memory; m != nil {
		src := p.keySource([]string{"limits", "memory"}, true)
		n, err := parseSize(m)
		if err != nil {
			p.errorAt(pos{src.Line, src.Col}, "limits.memory: "+err.Error())
		} else {
			f.Limits.Memory, f.LimitSources["memory"] = n, src
		}
	}
	if n := raw.Limits.Processes; n != nil {
		src := p.keySource([]string{"limits", "processes"}, true)
		if *n < 1 || *n > 1<<22 {
			p.errorAt(pos{src.Line, src.Col}, fmt.Sprintf("limits.processes %d: want 1 to %d", *n, 1<<22))
		} else {
			f.Limits.Processes, f.LimitSources["processes"] = int(*n), src
		}
	}
}

var lineRE = regexp.MustCompile(`line (\d+)`)

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
		s = filepath.Join(root, s)
	}
	s = filepath.Clean(s)
	if err := ValidGlob(s); err != nil {
		return "", err
	}
	return s, nil
}

func knownKeys(k toml.Key) string {
	known := map[string]string{
		"":           "filesystem, network, env, limits",
		"filesystem": "allow_write, deny_write, deny_read, allow_read",
		"network":    "allow, deny, unknown, allow_unix_sockets",
		"env":        "pass, set",
		"limits":     "timeout, memory, processes",
	}
	parent := ""
	if len(k) > 1 {
		parent = k[0]
	}
	if s, ok := known[parent]; ok {
		return s
	}
	return known[""]
}
