package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// warnings flags valid rules that are probably a mistake or a risk.
func (p *parser) warnings(f *File) []Diagnostic {
	var out []Diagnostic
	warn := func(src Source, format string, args ...any) {
		out = append(out, Diagnostic{File: src.File, Line: src.Line, Col: src.Col,
			Severity: SeverityWarning, Message: fmt.Sprintf(format, args...)})
	}
	for _, r := range f.Filesystem.AllowWrite {
		switch r.Path {
		case "/":
			warn(r.Source, "allow_write %q makes the whole machine writable", r.Pattern)
		case p.dirs.Home:
			warn(r.Source, "allow_write %q makes your whole home writable (shell rc files stay protected, the rest does not)", r.Pattern)
		}
		if isDockerSocket(r.Path) {
			warn(r.Source, "allow_write %q: the docker socket gives root on the host", r.Pattern)
		}
		for _, d := range f.Filesystem.DenyRead {
			if covers(d.Path, r.Path) {
				warn(r.Source, "%q is both denied for reading (line %d) and allowed for writing", r.Pattern, d.Source.Line)
			}
		}
		if p.root != "" && within(p.root, GlobBase(r.Path)) {
			warn(r.Source, "allow_write %q is inside the workspace, which is writable already, so it changes nothing (deny_write still wins)", r.Pattern)
		} else if !HasGlob(r.Path) && !within(p.dirs.Home, r.Path) && !missing(p.root) && missing(r.Path) {
			// Inside the home cordon makes it (as the user) before a run;
			// a workspace not on this machine cannot be judged;
			// elsewhere it opens nothing until it exists.
			warn(r.Source, "allow_write %q does not exist, so it opens nothing: create it first", r.Pattern)
		}
	}
	for _, r := range f.Network.AllowUnixSockets {
		if isDockerSocket(r.Path) {
			warn(r.Source, "allow_unix_sockets %q: the docker socket gives root on the host", r.Pattern)
		}
	}
	for _, r := range f.Network.Allow {
		if s, ok := strings.CutPrefix(r.Host, "*."); ok && !strings.Contains(s, ".") {
			warn(r.Source, "allow %q covers every host under the top-level domain .%s", r.Pattern, s)
		}
	}
	// allow_read only re-opens inside a deny_read: outside every one it
	// can never matter.
	denied := append(CredentialPaths(p.dirs), pathsOf(f.Filesystem.DenyRead)...)
	for _, r := range f.Filesystem.AllowRead {
		inside := false
		for _, d := range denied {
			if within(d, r.Path) || (HasGlob(d) && Match(d, r.Path)) {
				inside = true
				break
			}
		}
		if !inside {
			warn(r.Source, "allow_read %q is outside every deny_read, so it changes nothing", r.Pattern)
		}
	}
	return out
}

func pathsOf(rs []PathRule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Path
	}
	return out
}

func isDockerSocket(p string) bool {
	return filepath.Base(p) == "docker.sock"
}

// within reports whether p is dir or below it (both clean and absolute).
func within(dir, p string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func missing(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}
