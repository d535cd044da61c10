package server

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/cordon-dev/cordon/sandbox"
)

// codeAction offers, for each cordon violation diagnostic in the request,
// the narrowest rules that would have allowed it (see fixesFor).
func (s *server) codeAction(params json.RawMessage) (any, error) {
	var p struct {
		Context struct {
			Diagnostics []protocol.Diagnostic `json:"diagnostics"`
		} `json:"context"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "codeAction: %v", err)
	}
	actions := []map[string]any{}
	for _, d := range p.Context.Diagnostics {
		if d.Source != "cordon" || d.Data == nil {
			continue
		}
		raw, _ := json.Marshal(d.Data)
		var v violationData
		if json.Unmarshal(raw, &v) != nil || v.Root == "" {
			continue
		}
		var f *folder
		for _, cand := range s.snapshotFolders() {
			if cand.root == v.Root {
				f = cand
			}
		}
		if f == nil {
			continue
		}
		for _, fix := range fixesFor(f, v) {
			edit, _, err := policyEdit(f.file, fix.table, fix.key, fix.value)
			if err != nil {
				s.log.Info("no quick fix", "target", v.Target, "err", err)
				continue
			}
			actions = append(actions, map[string]any{
				"title":       fix.title,
				"kind":        "quickfix",
				"diagnostics": []protocol.Diagnostic{d},
				"edit":        edit,
			})
		}
	}
	return actions, nil
}

type fix struct{ table, key, value, title string }

// fixesFor lists the rules that would have decided v otherwise, narrowest
// first: for a host, host:port allowed, or the host denied for good; for a
// write, the file itself, then its directory. A rule is named relative to
// the workspace inside it and ~/-relative under the home directory; a
// directory so wide that one click would open a system tree or the whole
// home (/, /etc, ~) is never offered.
func fixesFor(f *folder, v violationData) []fix {
	switch v.Kind {
	case sandbox.KindNet:
		if ref, ok := refusedPushRef(v.Target); ok {
			pattern := strings.TrimPrefix(ref, "refs/heads/")
			return []fix{{"git", "push", pattern, "Allow pushing " + pattern + " in .sandbox.toml"}}
		}
		host, port, err := net.SplitHostPort(v.Target)
		if err != nil || strings.ContainsAny(v.Target, " /") {
			return nil // not HOST:PORT (another git operation, say)
		}
		n, _ := strconv.Atoi(port)
		allow := hostRule(host, n)
		return []fix{
			{"network", "allow", allow, "Allow " + allow + " in .sandbox.toml"},
			{"network", "deny", host, "Always deny " + host + " in .sandbox.toml"},
		}
	case sandbox.KindWrite:
		if !filepath.IsAbs(v.Target) {
			return nil
		}
		var out []fix
		file := filepath.Clean(v.Target)
		if r, ok := ruleFor(f, file, false); ok {
			out = append(out, fix{"filesystem", "allow_write", r, "Allow writing " + r + " in .sandbox.toml"})
		}
		if r, ok := ruleFor(f, filepath.Dir(file), true); ok {
			out = append(out, fix{"filesystem", "allow_write", r, "Allow writing in " + r + " in .sandbox.toml"})
		}
		return out
	}
	return nil
}

// refusedPushRef is the ref of a refused git push ("push REMOTE REF", as
// the git proxy names it).
func refusedPushRef(target string) (string, bool) {
	rest, ok := strings.CutPrefix(target, "push ")
	if !ok {
		return "", false
	}
	f := strings.Fields(rest)
	if len(f) != 2 || !strings.HasPrefix(f[1], "refs/") {
		return "", false
	}
	return f[1], true
}

// ruleFor names path as a policy rule; ok is false for a directory too
// wide to offer.
func ruleFor(f *folder, path string, dir bool) (string, bool) {
	if within(f.root, path) {
		rel, err := filepath.Rel(f.root, path)
		if err != nil || rel == "." {
			return "", false // the root is writable already
		}
		if !strings.Contains(rel, "/") {
			// A bare name would match at any depth: anchor it.
			rel = "./" + rel
		}
		return rel, true
	}
	home := f.dirs.Home
	if home != "" && within(home, path) {
		rel, err := filepath.Rel(home, path)
		if err != nil || rel == "." {
			return "", false // never the whole home
		}
		return "~/" + rel, true
	}
	if dir && strings.Count(path, "/") < 2 {
		return "", false // "/" or a top-level tree such as /etc, /usr
	}
	return path, true
}
