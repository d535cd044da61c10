package workspace

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Git is the [git] table: remotes reached through cordon's git proxy, which
// attaches the host's credential, and what a push may change there.
type Git struct {
	Remotes []GitRemote
	// Push lists the ref patterns a push may update; none by default.
	Push []RefRule
	// PushSource is where push was written: the rule a refused ref names
	// when no pattern matched it.
	PushSource  Source
	AllowForce  bool // non-fast-forward updates
	ForceSource Source
	AllowDelete bool
	// DeleteSource is where allow_delete was written.
	DeleteSource Source
}

// GitRemote is one [git].remotes entry.
type GitRemote struct {
	URL    string // as written
	Scheme string // "https", "http" or "ssh" (an scp-like "git@host:path" is ssh)
	Host   string // canonical
	Port   int    // 0: the scheme's default
	User   string // "git" in git@host:path; "" when none
	Path   string // "acme/app.git": no leading slash
	Source Source
}

// Endpoint is host[:port] as the remote's scheme dials it.
func (r GitRemote) Endpoint() (string, int) {
	port := r.Port
	if port == 0 {
		port = map[string]int{"https": 443, "http": 80, "ssh": 22}[r.Scheme]
	}
	return r.Host, port
}

// RefRule is one [git].push pattern.
type RefRule struct {
	Pattern string // as written: "agent/*", "refs/tags/v*"
	Ref     string // the full ref pattern: "refs/heads/agent/*"
	Source  Source
}

// Matches reports whether the full ref name is one this rule lets a push
// update. `*` stays within one path segment, `**` crosses segments, as in
// the filesystem rules.
func (r RefRule) Matches(ref string) bool { return Match(r.Ref, ref) }

// ParseGitRemote reads a remote as git spells it: https://, http:// and
// ssh:// URLs, or the scp-like user@host:path. Credentials, queries and
// fragments are refused: a policy file is no place for a password, and a
// remote is compared by what it names.
func ParseGitRemote(s string) (GitRemote, error) {
	r := GitRemote{URL: s}
	if s == "" {
		return r, errors.New("empty remote")
	}
	for _, c := range s {
		if c < 0x21 || c == 0x7f {
			return r, fmt.Errorf("remote %q holds a space or control character", s)
		}
	}
	scheme, _, isURL := strings.Cut(s, "://")
	if !isURL {
		// scp-like: [user@]host:path, the host without a slash.
		hostPart, path, ok := strings.Cut(s, ":")
		if !ok || strings.Contains(hostPart, "/") || hostPart == "" {
			return r, fmt.Errorf("remote %q: want https://host/path, ssh://[user@]host[:port]/path or user@host:path", s)
		}
		if user, host, ok := strings.Cut(hostPart, "@"); ok {
			r.User, hostPart = user, host
		}
		r.Scheme, r.Path = "ssh", path
		host, err := CanonicalHost(hostPart)
		if err != nil {
			return r, fmt.Errorf("remote %q: %w", s, err)
		}
		r.Host = host
		return r, r.checkPath()
	}
	switch scheme {
	case "https", "http", "ssh":
	default:
		return r, fmt.Errorf("remote %q: scheme %q is not one cordon proxies (https, http, ssh)", s, scheme)
	}
	u, err := url.Parse(s)
	if err != nil {
		return r, fmt.Errorf("remote %q: %w", s, err)
	}
	if _, has := u.User.Password(); has {
		return r, fmt.Errorf("remote %q holds a password: cordon takes the credential from your git credential helper on the host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return r, fmt.Errorf("remote %q: a query or fragment is not part of a remote", s)
	}
	r.Scheme, r.User = scheme, u.User.Username()
	if u.Port() != "" {
		p, err := strconv.Atoi(u.Port())
		if err != nil || p < 1 || p > 65535 {
			return r, fmt.Errorf("remote %q: bad port %q", s, u.Port())
		}
		r.Port = p
	}
	host, err := CanonicalHost(u.Hostname())
	if err != nil {
		return r, fmt.Errorf("remote %q: %w", s, err)
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	r.Host = host
	r.Path = strings.TrimPrefix(u.Path, "/")
	return r, r.checkPath()
}

func (r GitRemote) checkPath() error {
	p := strings.TrimSuffix(r.Path, "/")
	if p == "" {
		return fmt.Errorf("remote %q names no repository", r.URL)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("remote %q: %q is not allowed in a repository path", r.URL, seg)
		}
	}
	if HasGlob(p) || strings.ContainsAny(p, "\\") {
		return fmt.Errorf("remote %q: a remote is one repository, not a pattern", r.URL)
	}
	return nil
}

// ParseRefRule reads a push pattern: a full ref ("refs/tags/v*") or a
// branch ("agent/*" is refs/heads/agent/*).
func ParseRefRule(s string) (RefRule, error) {
	r := RefRule{Pattern: s, Ref: s}
	if !strings.HasPrefix(s, "refs/") {
		r.Ref = "refs/heads/" + s
	}
	switch {
	case s == "" || strings.HasSuffix(s, "/") || strings.HasPrefix(s, "/"):
		return r, fmt.Errorf("push pattern %q: want a branch pattern like \"agent/*\" or a ref like \"refs/tags/v*\"", s)
	case strings.Contains(s, "//") || strings.Contains(s, "..") || strings.Contains(s, "@{"):
		return r, fmt.Errorf("push pattern %q is not a ref name", s)
	}
	for _, c := range s {
		if c < 0x21 || c == 0x7f || strings.ContainsRune(" ~^:\\", c) {
			return r, fmt.Errorf("push pattern %q holds %q, which no ref name may", s, c)
		}
	}
	if err := ValidGlob(r.Ref); err != nil {
		return r, fmt.Errorf("push pattern %w", err)
	}
	return r, nil
}

// gitTable fills f.Git from the checked [git] table.
func (p *parser) gitTable(f *File, tables map[string]map[string]any) {
	g := tables["git"]
	for i, s := range p.strings(tables, "git", "remotes") {
		src := p.source(p.loc.elem([]string{"git", "remotes"}, i))
		r, err := ParseGitRemote(s)
		if err != nil {
			p.errorAt(pos{src.Line, src.Col}, err.Error())
			continue
		}
		r.Source = src
		f.Git.Remotes = append(f.Git.Remotes, r)
	}
	if _, ok := g["push"]; ok {
		f.Git.PushSource = p.source(p.loc.name([]string{"git", "push"}))
	}
	for i, s := range p.strings(tables, "git", "push") {
		src := p.source(p.loc.elem([]string{"git", "push"}, i))
		r, err := ParseRefRule(s)
		if err != nil {
			p.errorAt(pos{src.Line, src.Col}, err.Error())
			continue
		}
		r.Source = src
		f.Git.Push = append(f.Git.Push, r)
	}
	if v, ok := g["allow_force"].(bool); ok {
		f.Git.AllowForce, f.Git.ForceSource, f.HasForce = v, p.source(p.loc.name([]string{"git", "allow_force"})), true
	}
	if v, ok := g["allow_delete"].(bool); ok {
		f.Git.AllowDelete, f.Git.DeleteSource, f.HasDelete = v, p.source(p.loc.name([]string{"git", "allow_delete"})), true
	}
}

// applyGit applies a trusted file's [git] table.
func applyGit(p *Policy, f *File) {
	p.Git.Remotes = append(p.Git.Remotes, f.Git.Remotes...)
	p.Git.Push = append(p.Git.Push, f.Git.Push...)
	if f.Git.PushSource.File != "" {
		p.Git.PushSource = f.Git.PushSource
	}
	if f.HasForce {
		p.Git.AllowForce, p.Git.ForceSource = f.Git.AllowForce, f.Git.ForceSource
	}
	if f.HasDelete {
		p.Git.AllowDelete, p.Git.DeleteSource = f.Git.AllowDelete, f.Git.DeleteSource
	}
}

// applyGitUntrusted applies what an untrusted workspace file's [git] table
// narrows, and what the user file already grants.
func applyGitUntrusted(p *Policy, user, ws *File) {
	for _, r := range ws.Git.Remotes {
		if gitRemoteCovered(user, r) {
			p.Git.Remotes = append(p.Git.Remotes, r)
		}
	}
	for _, r := range ws.Git.Push {
		if refCovered(user, r) {
			p.Git.Push = append(p.Git.Push, r)
		}
	}
	if ws.HasForce && !ws.Git.AllowForce {
		p.Git.AllowForce, p.Git.ForceSource = false, ws.Git.ForceSource
	}
	if ws.HasDelete && !ws.Git.AllowDelete {
		p.Git.AllowDelete, p.Git.DeleteSource = false, ws.Git.DeleteSource
	}
}

// gitWidenings: every [git] entry is a widening (a remote reachable with
// your credential, a ref a push may change, force and delete), unless the
// user file grants the same.
func gitWidenings(p *Policy, user, ws *File) []Widening {
	var out []Widening
	for _, r := range ws.Git.Remotes {
		if !gitRemoteCovered(user, r) {
			out = append(out, Widening{Kind: "git", Target: "remote " + r.URL, Source: r.Source})
		}
	}
	for _, r := range ws.Git.Push {
		if !refCovered(user, r) {
			out = append(out, Widening{Kind: "git", Target: "push " + r.Ref, Source: r.Source})
		}
	}
	if ws.HasForce && ws.Git.AllowForce && !(user != nil && user.HasForce && user.Git.AllowForce) {
		out = append(out, Widening{Kind: "git", Target: "allow_force", Source: ws.Git.ForceSource})
	}
	if ws.HasDelete && ws.Git.AllowDelete && !(user != nil && user.HasDelete && user.Git.AllowDelete) {
		out = append(out, Widening{Kind: "git", Target: "allow_delete", Source: ws.Git.DeleteSource})
	}
	return out
}

func gitRemoteCovered(user *File, r GitRemote) bool {
	if user == nil {
		return false
	}
	for _, u := range user.Git.Remotes {
		if u.URL == r.URL {
			return true
		}
	}
	return false
}

func refCovered(user *File, r RefRule) bool {
	if user == nil {
		return false
	}
	for _, u := range user.Git.Push {
		if u.Ref == r.Ref {
			return true
		}
	}
	return false
}
