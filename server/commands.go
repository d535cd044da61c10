package server

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"

	"go.lsp.dev/jsonrpc2"

	"github.com/cordon-dev/cordon/workspace"
)

// The editors' commands beyond run, status and reload: each takes one
// argument object naming the folder by root (the first folder when absent).
const (
	cmdExplain         = "cordon.server.explain"         // → {root, text}: the effective policy, rule by rule
	cmdTrust           = "cordon.server.trust"           // {hash} → status: trust that content (the user said yes in the editor)
	cmdUntrust         = "cordon.server.untrust"         // → status: withdraw the file's trust
	cmdClearViolations = "cordon.server.clearViolations" // {runId?} → {}: drop the violation diagnostics (of one run)
	cmdRevoke          = "cordon.server.revoke"          // {host} → {}: take an "Always allow" host out of [network] allow
)

var editorCommands = []string{cmdExplain, cmdTrust, cmdUntrust, cmdClearViolations, cmdRevoke}

type commandArgs struct {
	Root  string `json:"root"`
	Hash  string `json:"hash"`
	RunID string `json:"runId"`
	Host  string `json:"host"`
}

// editorCommand serves the commands above; ok is false for a name it does
// not know.
func (s *server) editorCommand(ctx context.Context, name string, args []json.RawMessage) (result any, ok bool, err error) {
	switch name {
	case cmdExplain, cmdTrust, cmdUntrust, cmdClearViolations, cmdRevoke:
	default:
		return nil, false, nil
	}
	var a commandArgs
	if len(args) > 0 {
		if err := json.Unmarshal(args[0], &a); err != nil {
			return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%s: %v", name, err)
		}
	}
	f := s.folderByRoot(a.Root)
	if f == nil {
		return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%s: %q is not a served workspace folder", name, a.Root)
	}
	switch name {
	case cmdExplain:
		p := f.Policy()
		if p == nil {
			return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "%s: no valid policy: %s", name, f.status().Error)
		}
		text := workspace.Explain(p)
		if st := f.status(); st.LastGood {
			text = "The policy file on disk is invalid; the last good policy below is in force.\n" + st.Error + "\n\n" + text
		}
		return map[string]any{"root": f.root, "text": text}, true, nil
	case cmdTrust:
		p := f.Policy()
		switch {
		case p == nil || p.Hash == "":
			return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "%s: %s does not exist: nothing to trust", name, f.file)
		case a.Hash == "":
			return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%s: the hash of the content the user saw is required", name)
		case a.Hash != p.Hash:
			// The file changed between the question and the answer: the
			// yes was for another content.
			return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "%s: %s changed since it was shown; ask again", name, f.file)
		}
		if err := (workspace.TrustStore{Dir: f.dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
			return nil, true, err
		}
		s.log.Info("policy trusted", "file", p.File, "hash", p.Hash)
		f.reload()
		return s.status(), true, nil
	case cmdUntrust:
		if err := (workspace.TrustStore{Dir: f.dirs.StateDir}).Untrust(f.file); err != nil {
			return nil, true, err
		}
		s.log.Info("policy trust withdrawn", "file", f.file)
		s.mu.Lock()
		for k := range s.trustAsking {
			delete(s.trustAsking, k)
		}
		s.mu.Unlock()
		f.reload()
		return s.status(), true, nil
	case cmdClearViolations:
		s.clearViolations(f, a.RunID)
		return map[string]any{}, true, nil
	case cmdRevoke:
		if a.Host == "" {
			return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%s: host is required", name)
		}
		if err := s.revoke(ctx, f, "network", "allow", a.Host); err != nil {
			return nil, true, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "%s: %v", name, err)
		}
		return map[string]any{}, true, nil
	}
	return nil, false, nil
}

// folderByRoot is the served folder with this root; "" is the first one.
func (s *server) folderByRoot(root string) *folder {
	folders := s.snapshotFolders()
	if root == "" {
		if len(folders) == 0 {
			return nil
		}
		return folders[0]
	}
	for _, f := range folders {
		if f.root == root {
			return f
		}
	}
	if f := s.folderFor(root); f != nil && f.root == root {
		return f
	}
	return nil
}

// fileExists reports whether a policy file is there (a dangling or
// unreadable one counts: it is shown as an error, not as "no file").
func fileExists(file string) bool {
	_, err := os.Lstat(file)
	return !errors.Is(err, fs.ErrNotExist)
}
