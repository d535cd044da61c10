package server

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/cordon-dev/cordon/sandbox"
)

// codeAction offers, for each cordon violation diagnostic in the request,
// the narrowest rule that would have allowed it: host:port for a network
// refusal, the directory for a write.
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
		var table, key, value, title string
		switch v.Kind {
		case sandbox.KindNet:
			host, port, err := net.SplitHostPort(v.Target)
			if err != nil {
				continue
			}
			n, _ := strconv.Atoi(port)
			table, key, value = "network", "allow", hostRule(host, n)
			title = "Allow " + value + " in .sandbox.toml"
		case sandbox.KindWrite:
			if !filepath.IsAbs(v.Target) {
				continue
			}
			dir := filepath.Dir(v.Target)
			if rel, err := filepath.Rel(f.root, dir); err == nil && within(f.root, dir) {
				dir = rel // inside the workspace the rule is relative
			}
			table, key, value = "filesystem", "allow_write", dir
			title = "Allow writing in " + value + " in .sandbox.toml"
		default:
			continue
		}
		edit, _, err := policyEdit(f.file, table, key, value)
		if err != nil {
			s.log.Info("no quick fix", "target", v.Target, "err", err)
			continue
		}
		actions = append(actions, map[string]any{
			"title":       title,
			"kind":        "quickfix",
			"diagnostics": []protocol.Diagnostic{d},
			"edit":        edit,
		})
	}
	return actions, nil
}
