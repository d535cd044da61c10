package darwin

import (
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/workspace"
)

// ruleGlob is the absolute pattern a rule stands for, with DESIGN's
// gitignore reading of a pattern without a slash: "*.pem" or ".env" names
// that entry at any depth below the workspace root, not only at the root.
// A rule whose Path already says so (Root/**/NAME) is left as it is.
func ruleGlob(r workspace.PathRule, root string) string {
	p := r.Pattern
	if p == "" || strings.Contains(p, "/") || strings.HasPrefix(p, "~") || p == "." || p == ".." {
		return r.Path
	}
	if filepath.Base(filepath.Dir(r.Path)) == "**" {
		return r.Path
	}
	return filepath.Join(root, "**", filepath.Base(r.Path))
}

// firmlinked are the top-level names macOS keeps as symbolic links into
// /private. Seatbelt matches the path the kernel resolved, so a rule must
// name /private/tmp/x to cover /tmp/x; both spellings are emitted.
var firmlinked = []string{"/tmp", "/var", "/etc"}

// spellings returns p and, when p lies under /tmp, /var or /etc or their
// /private forms, its other spelling (the /private one first).
func spellings(p string) []string {
	for _, top := range firmlinked {
		switch {
		case p == top || strings.HasPrefix(p, top+"/"):
			return []string{"/private" + p, p}
		case p == "/private"+top || strings.HasPrefix(p, "/private"+top+"/"):
			return []string{p, strings.TrimPrefix(p, "/private")}
		}
	}
	return []string{p}
}

// ancestors lists the directories above p, nearest first, "/" excluded.
func ancestors(p string) []string {
	var out []string
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		out = append(out, d)
	}
	return out
}

// within reports whether p is dir or lies below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// withinAny reports whether p is one of dirs or lies below one.
func withinAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if within(p, d) {
			return true
		}
	}
	return false
}
