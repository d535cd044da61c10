package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LoadOptions says which workspace to load.
type LoadOptions struct {
	Root       string   // workspace root (absolute)
	Folders    []string // other workspace folders
	PolicyFile string   // default Root/.sandbox.toml
	Dirs       Dirs
}

// maxPolicySize bounds what we read: a policy is a few hundred bytes.
const maxPolicySize = 1 << 20

// Load builds the effective policy: the built-in defaults, the user
// defaults file over them, the workspace file over that. The workspace
// file's narrowings always apply; its widenings only once its exact content
// is trusted. An invalid file is a *PolicyError.
func Load(opts LoadOptions) (*Policy, error) {
	if !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("workspace root %q is not absolute", opts.Root)
	}
	root := filepath.Clean(opts.Root)
	file := opts.PolicyFile
	if file == "" {
		file = filepath.Join(root, ".sandbox.toml")
	}
	// The trust store is keyed by absolute path: "--policy p.toml" and
	// "--policy ./p.toml" are the same file.
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", err)
	}
	d := opts.Dirs
	p := &Policy{
		Root:      root,
		Folders:   folders(root, opts.Folders),
		Home:      d.Home,
		File:      file,
		UserFile:  d.UserFile(),
		StateDir:  d.StateDir,
		ConfigDir: d.ConfigDir,
		Trusted:   true,
	}
	p.Network.Unknown = UnknownAsk
	for _, c := range CredentialPaths(d) {
		p.Filesystem.DenyRead = append(p.Filesystem.DenyRead, PathRule{Pattern: c, Path: c})
	}
	for _, c := range DefaultCaches(d) {
		p.Filesystem.Cache = append(p.Filesystem.Cache, PathRule{Pattern: c, Path: c})
	}

	if root == d.Home || root == "/" {
		p.Warnings = append(p.Warnings, Diagnostic{File: file, Line: 1, Col: 1, Severity: SeverityWarning,
			Message: fmt.Sprintf("the workspace root is %s: all of it is writable (open a project folder instead)", root)})
	}
	user, err := readPolicy(p.UserFile, d, root)
	if err != nil {
		return nil, err
	}
	ws, err := readPolicy(file, d, root)
	if err != nil {
		return nil, err
	}
	if user != nil {
		applyAll(p, user)
		p.Warnings = append(p.Warnings, user.Warnings()...)
	}
	if ws != nil {
		p.Hash = ws.Hash
		p.Warnings = append(p.Warnings, wsWarnings(user, ws)...)
		widenings := Widenings(p, user, ws)
		trusted := len(widenings) == 0
		if !trusted {
			ok, err := TrustStore{Dir: d.StateDir}.Trusted(file, ws.Hash)
			if err != nil {
				return nil, err
			}
			trusted = ok
		}
		p.Trusted = trusted
		if !trusted {
			p.Untrusted = widenings
		}
		applyWorkspace(p, user, ws, trusted)
	}
	return p, nil
}

// wsWarnings are the workspace file's warnings, less the "allow_read
// changes nothing" ones the user file proves wrong by denying the place.
func wsWarnings(user *File, ws *File) []Diagnostic {
	if user == nil {
		return ws.Warnings()
	}
	var out []Diagnostic
next:
	for _, w := range ws.Warnings() {
		for _, r := range ws.Filesystem.AllowRead {
			if w.Line == r.Source.Line && w.Col == r.Source.Col && strings.Contains(w.Message, "outside every deny_read") {
				for _, d := range user.Filesystem.DenyRead {
					if overlaps(d.Path, r.Path) {
						continue next
					}
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// folders is root then every other absolute folder, cleaned, once each.
// A relative folder is dropped: it could mean anywhere.
func folders(root string, extra []string) []string {
	out := []string{root}
	seen := map[string]bool{root: true}
	for _, f := range extra {
		f = filepath.Clean(f)
		if filepath.IsAbs(f) && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// readPolicy parses file, or returns nil when it does not exist.
func readPolicy(file string, d Dirs, root string) (*File, error) {
	fh, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &PolicyError{Diagnostics: []Diagnostic{{File: file, Line: 1, Col: 1, Severity: SeverityError, Message: err.Error()}}}
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxPolicySize+1))
	if err != nil {
		return nil, &PolicyError{Diagnostics: []Diagnostic{{File: file, Line: 1, Col: 1, Severity: SeverityError, Message: err.Error()}}}
	}
	if len(data) > maxPolicySize {
		return nil, &PolicyError{Diagnostics: []Diagnostic{{File: file, Line: 1, Col: 1, Severity: SeverityError, Message: "larger than 1 MiB"}}}
	}
	return Parse(file, data, d, root)
}

// applyAll applies every rule of a trusted file.
func applyAll(p *Policy, f *File) {
	fs := &p.Filesystem
	fs.AllowWrite = append(fs.AllowWrite, f.Filesystem.AllowWrite...)
	fs.DenyWrite = append(fs.DenyWrite, f.Filesystem.DenyWrite...)
	fs.DenyRead = append(fs.DenyRead, f.Filesystem.DenyRead...)
	fs.AllowRead = append(fs.AllowRead, f.Filesystem.AllowRead...)
	fs.Cache = append(fs.Cache, f.Filesystem.Cache...)
	p.Network.Allow = append(p.Network.Allow, f.Network.Allow...)
	p.Network.Deny = append(p.Network.Deny, f.Network.Deny...)
	p.Network.AllowUnixSockets = append(p.Network.AllowUnixSockets, f.Network.AllowUnixSockets...)
	p.Network.Publish = append(p.Network.Publish, f.Network.Publish...)
	if f.HasUnknown {
		p.Network.Unknown, p.Network.UnknownSource = f.Network.Unknown, f.Network.UnknownSource
	}
	p.Env.Pass = append(p.Env.Pass, f.Env.Pass...)
	p.Env.Set = append(p.Env.Set, f.Env.Set...)
	applyGit(p, f)
	mergeLimits(p, f)
}

// applyWorkspace applies the workspace file: narrowings always, widenings
// only when trusted.
func applyWorkspace(p *Policy, user, ws *File, trusted bool) {
	if trusted {
		applyAll(p, ws)
		return
	}
	fs := &p.Filesystem
	fs.DenyWrite = append(fs.DenyWrite, ws.Filesystem.DenyWrite...)
	fs.DenyRead = append(fs.DenyRead, ws.Filesystem.DenyRead...)
	// A cache is no widening: its writes stay in this workspace's layer
	// and never reach the host.
	fs.Cache = append(fs.Cache, ws.Filesystem.Cache...)
	p.Network.Deny = append(p.Network.Deny, ws.Network.Deny...)
	for _, r := range ws.Filesystem.AllowWrite {
		if !widensWrite(p, user, r) {
			fs.AllowWrite = append(fs.AllowWrite, r)
		}
	}
	for _, r := range ws.Filesystem.AllowRead {
		if !widensRead(p, user, r) {
			fs.AllowRead = append(fs.AllowRead, r)
		}
	}
	for _, r := range ws.Network.Allow {
		if coveredHost(user, r) {
			p.Network.Allow = append(p.Network.Allow, r)
		}
	}
	for _, r := range ws.Network.AllowUnixSockets {
		if coveredSocket(user, r) {
			p.Network.AllowUnixSockets = append(p.Network.AllowUnixSockets, r)
		}
	}
	for _, r := range ws.Network.Publish {
		if coveredPublish(user, r) {
			p.Network.Publish = append(p.Network.Publish, r)
		}
	}
	if ws.HasUnknown && !(ws.Network.Unknown == UnknownAsk && p.Network.Unknown == UnknownDeny) {
		p.Network.Unknown, p.Network.UnknownSource = ws.Network.Unknown, ws.Network.UnknownSource
	}
	for _, e := range ws.Env.Pass {
		if !widensEnv(user, e) {
			p.Env.Pass = append(p.Env.Pass, e)
		}
	}
	for _, e := range ws.Env.Set {
		if !widensSet(user, e) {
			p.Env.Set = append(p.Env.Set, e)
		}
	}
	applyGitUntrusted(p, user, ws)
	mergeLimits(p, ws)
}

// Widenings lists what the workspace file ws allows beyond the built-in
// defaults and the user file: a write outside the workspace, a read inside
// a denied place, an allowed host, a passed secret, a set variable, an
// allowed unix socket, and asking where the user said deny.
func Widenings(p *Policy, user, ws *File) []Widening {
	var out []Widening
	for _, r := range ws.Filesystem.AllowWrite {
		if widensWrite(p, user, r) {
			out = append(out, Widening{Kind: "write", Target: r.Path, Source: r.Source})
		}
	}
	for _, r := range ws.Filesystem.AllowRead {
		if widensRead(p, user, r) {
			out = append(out, Widening{Kind: "read", Target: r.Path, Source: r.Source})
		}
	}
	for _, r := range ws.Network.Allow {
		if !coveredHost(user, r) {
			out = append(out, Widening{Kind: "net", Target: r.Pattern, Source: r.Source})
		}
	}
	for _, r := range ws.Network.AllowUnixSockets {
		if !coveredSocket(user, r) {
			out = append(out, Widening{Kind: "unix-socket", Target: r.Path, Source: r.Source})
		}
	}
	for _, r := range ws.Network.Publish {
		if !coveredPublish(user, r) {
			out = append(out, Widening{Kind: "publish", Target: fmt.Sprintf("localhost:%d", r.Port), Source: r.Source})
		}
	}
	for _, e := range ws.Env.Pass {
		if widensEnv(user, e) {
			out = append(out, Widening{Kind: "env", Target: e.Name, Source: e.Source})
		}
	}
	for _, e := range ws.Env.Set {
		if widensSet(user, e) {
			out = append(out, Widening{Kind: "env", Target: e.Name + "=" + e.Value, Source: e.Source})
		}
	}
	if ws.HasUnknown && ws.Network.Unknown == UnknownAsk && user != nil && user.HasUnknown && user.Network.Unknown == UnknownDeny {
		out = append(out, Widening{Kind: "net", Target: "unknown = \"ask\" (your defaults say deny)", Source: ws.Network.UnknownSource})
	}
	return append(out, gitWidenings(p, user, ws)...)
}

// widensWrite: an allow_write reaching outside every workspace folder
// and outside what the user's own allow_write grants. Symlinks in the part
// of the path that exists are resolved first: "link" pointing at /etc is a
// write to /etc. A glob counts from its literal base, erring towards
// "widens".
func widensWrite(p *Policy, user *File, r PathRule) bool {
	return widensWriteAt(p, user, r) || widensWriteAt(p, user, anchored(p, r))
}

// anchored is r at the root only: a rule matching at any depth widens
// when its root-level match would ("keys" is also root/keys, which may be
// a link out of the workspace).
func anchored(p *Policy, r PathRule) PathRule {
	if AnyDepth(r.Pattern) && p.Root != "" {
		r.Path = filepath.Join(p.Root, r.Pattern)
	}
	return r
}

func widensWriteAt(p *Policy, user *File, r PathRule) bool {
	base := GlobBase(r.Path)
	real := resolveExisting(base)
	for _, f := range p.Folders {
		if within(f, base) && within(resolveExisting(f), real) {
			return false
		}
	}
	if user != nil {
		for _, u := range user.Filesystem.AllowWrite {
			if covers(u.Path, r.Path) && (HasGlob(u.Path) || within(resolveExisting(u.Path), real)) {
				return false
			}
		}
	}
	return true
}

// widensRead: an allow_read re-opening anything the credential set or the
// user's own deny_read closed, unless the user's own allow_read already
// re-opens it. A glob counts from its literal base, and a symlink from
// where it points.
func widensRead(p *Policy, user *File, r PathRule) bool {
	return widensReadAt(p, user, r) || widensReadAt(p, user, anchored(p, r))
}

func widensReadAt(p *Policy, user *File, r PathRule) bool {
	closed := CredentialPaths(Dirs{Home: p.Home, ConfigDir: p.ConfigDir, StateDir: p.StateDir})
	if user != nil {
		closed = append(closed, pathsOf(user.Filesystem.DenyRead)...)
	}
	real := resolveExisting(GlobBase(r.Path))
	for _, c := range closed {
		if overlaps(c, r.Path) || overlaps(c, real) || overlaps(resolveExisting(GlobBase(c)), real) {
			return !(user != nil && coveredRead(user, r))
		}
	}
	return false
}

func coveredRead(user *File, r PathRule) bool {
	for _, u := range user.Filesystem.AllowRead {
		if covers(u.Path, r.Path) {
			return true
		}
	}
	return false
}

// covers reports whether everything rule pattern r reaches is inside what
// rule pattern u reaches. Globs are compared conservatively: a glob u
// covers only itself, or, ending in "/**", what lies below its base.
func covers(u, r string) bool {
	switch {
	case u == r:
		return true
	case !HasGlob(u):
		return within(u, GlobBase(r))
	case strings.HasSuffix(u, "/**") && !HasGlob(strings.TrimSuffix(u, "/**")):
		return within(strings.TrimSuffix(u, "/**"), GlobBase(r))
	}
	return false
}

// overlaps reports whether some path could be reached by both patterns
// (a rule on a directory reaches what lies below it). It errs towards yes.
func overlaps(a, b string) bool {
	ba, bb := GlobBase(a), GlobBase(b)
	return within(ba, bb) || within(bb, ba)
}

// resolveExisting resolves the symlinks of the longest existing prefix of
// the absolute path p and appends the rest.
func resolveExisting(p string) string {
	rest := ""
	for d := p; ; d = filepath.Dir(d) {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(real, rest)
		}
		if d == filepath.Dir(d) {
			return p
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
}

func coveredHost(user *File, r HostRule) bool {
	if user == nil {
		return false
	}
	for _, u := range user.Network.Allow {
		if (u.Port == 0 || u.Port == r.Port) && (u.Host == r.Host || MatchHost(u.Host, r.Host)) {
			return true
		}
	}
	return false
}

func coveredSocket(user *File, r PathRule) bool {
	if user == nil {
		return false
	}
	for _, u := range user.Network.AllowUnixSockets {
		if u.Path == r.Path {
			return true
		}
	}
	return false
}

// coveredPublish: the user's own file publishes the port already.
func coveredPublish(user *File, r PortRule) bool {
	if user == nil {
		return false
	}
	for _, u := range user.Network.Publish {
		if u.Port == r.Port {
			return true
		}
	}
	return false
}

func widensEnv(user *File, e EnvPass) bool {
	if !IsSecretEnv(e.Name) {
		return false
	}
	if user != nil {
		for _, u := range user.Env.Pass {
			if u.Name == e.Name {
				return false
			}
		}
	}
	return true
}

// widensSet: every [env].set entry of a workspace file changes what runs
// (PATH, LD_PRELOAD, NODE_OPTIONS, GIT_*, PYTHONPATH...), so each is a
// widening, unless the user file sets the same name to the same value.
func widensSet(user *File, e EnvVar) bool {
	if user != nil {
		for _, u := range user.Env.Set {
			if u.Name == e.Name && u.Value == e.Value {
				return false
			}
		}
	}
	return true
}

// mergeLimits narrows p's limits by f's and records where each limit in
// force was set.
func mergeLimits(p *Policy, f *File) {
	old := p.Limits
	p.Limits = narrower(p.Limits, f.Limits)
	if p.LimitSources == nil {
		p.LimitSources = map[string]Source{}
	}
	for name, changed := range map[string]bool{
		"timeout":   p.Limits.Timeout != old.Timeout,
		"memory":    p.Limits.Memory != old.Memory,
		"processes": p.Limits.Processes != old.Processes,
	} {
		if changed {
			p.LimitSources[name] = f.LimitSources[name]
		}
	}
}

// narrower keeps, per limit, the smaller of two set values.
func narrower(a, b Limits) Limits {
	pick := func(x, y int64) int64 {
		switch {
		case x == 0:
			return y
		case y == 0 || x < y:
			return x
		}
		return y
	}
	return Limits{
		Timeout:   time.Duration(pick(int64(a.Timeout), int64(b.Timeout))),
		Memory:    pick(a.Memory, b.Memory),
		Processes: int(pick(int64(a.Processes), int64(b.Processes))),
	}
}
