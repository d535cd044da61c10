package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/uri"
)

// Command ids we advertise; they differ from the VS Code extension's own
// command ids, or the extension fails to register its commands.
const (
	cmdRun    = "cordon.server.run"
	cmdStatus = "cordon.server.status"
	cmdReload = "cordon.server.reload"
)

type initializeParams struct {
	RootURI          string `json:"rootUri"`
	RootPath         string `json:"rootPath"`
	WorkspaceFolders []struct {
		URI string `json:"uri"`
	} `json:"workspaceFolders"`
	InitializationOptions struct {
		Approvals  bool   `json:"approvals"`
		UserConfig string `json:"userConfig"`
	} `json:"initializationOptions"`
	Capabilities struct {
		Window struct {
			WorkDoneProgress bool `json:"workDoneProgress"`
		} `json:"window"`
		TextDocument struct {
			Completion struct {
				CompletionItem struct {
					SnippetSupport bool `json:"snippetSupport"`
				} `json:"completionItem"`
			} `json:"completion"`
		} `json:"textDocument"`
	} `json:"capabilities"`
	ClientInfo struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"clientInfo"`
	Trace string `json:"trace"`
}

func (s *server) initialize(params json.RawMessage) (any, error) {
	var p initializeParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "initialize: %v", err)
	}
	var roots []string
	for _, f := range p.WorkspaceFolders {
		dir, err := uriPath(f.URI)
		if err != nil {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "initialize: workspace folder: %v", err)
		}
		roots = append(roots, dir)
	}
	if len(roots) == 0 {
		switch {
		case p.RootURI != "":
			dir, err := uriPath(p.RootURI)
			if err != nil {
				return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "initialize: rootUri: %v", err)
			}
			roots = append(roots, dir)
		case p.RootPath != "":
			roots = append(roots, p.RootPath)
		default:
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "initialize: no workspace folder and no rootUri")
		}
	}
	dirs := s.opts.Dirs
	if uc := p.InitializationOptions.UserConfig; uc != "" {
		// workspace.Dirs names the user file ConfigDir/sandbox.toml.
		if filepath.Base(uc) != "sandbox.toml" || !filepath.IsAbs(uc) {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "initialize: userConfig must be an absolute path to a file named sandbox.toml, got %q", uc)
		}
		dirs.ConfigDir = filepath.Dir(uc)
	}
	var folders []*folder
	for i, r := range roots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "initialize: %v", err)
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		var others []string
		if i == 0 {
			others = roots[1:]
		}
		folders = append(folders, newFolder(s, abs, others, dirs))
	}
	s.mu.Lock()
	s.folders = folders
	s.client = clientInfo{
		snippets:         p.Capabilities.TextDocument.Completion.CompletionItem.SnippetSupport,
		approvals:        p.InitializationOptions.Approvals,
		workDoneProgress: p.Capabilities.Window.WorkDoneProgress,
		userConfig:       p.InitializationOptions.UserConfig,
	}
	s.state = stateRunning
	s.mu.Unlock()
	s.traceLevel(p.Trace)
	s.log.Info("initialize", "client", p.ClientInfo.Name, "version", p.ClientInfo.Version, "folders", roots, "approvals", p.InitializationOptions.Approvals, "trace", p.Trace)
	for _, f := range folders {
		f.reload()
	}
	return map[string]any{
		"capabilities": map[string]any{
			"codeActionProvider": map[string]any{"codeActionKinds": []string{"quickfix"}},
			// For .sandbox.toml: live validation, completion, hover, outline.
			"textDocumentSync":       map[string]any{"openClose": true, "change": 2, "save": map[string]any{"includeText": false}},
			"completionProvider":     map[string]any{"triggerCharacters": []string{"[", "=", " ", "\""}},
			"hoverProvider":          true,
			"documentSymbolProvider": true,
			"executeCommandProvider": map[string]any{
				"commands": append([]string{cmdRun, cmdStatus, cmdReload}, editorCommands...),
			},
			"workspace": map[string]any{
				"workspaceFolders": map[string]any{"supported": true},
			},
		},
		"serverInfo": map[string]any{"name": "cordon"},
	}, nil
}

func uriPath(u string) (string, error) {
	parsed, err := uri.Parse(u)
	if err != nil {
		return "", fmt.Errorf("%q: %w", u, err)
	}
	if parsed == "" {
		return "", fmt.Errorf("%q: empty", u)
	}
	p := parsed.Filename()
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is not a file URI", u)
	}
	return p, nil
}

// startWatching begins live reloads once the client is ready for
// diagnostics.
func (s *server) startWatching() {
	s.mu.Lock()
	folders := s.folders
	s.mu.Unlock()
	if s.ready.Swap(true) {
		return // a second initialized
	}
	for _, f := range folders {
		if err := f.watch(s.ctx); err != nil {
			s.log.Error("watching policy", "root", f.root, "err", err)
		}
		// Again now the watch is on: nothing changed in between is lost,
		// and what the first load found is published and asked.
		f.reload()
	}
	s.openControlRooms(folders)
}

func (r *runInfo) status() runStatus {
	return runStatus{RunID: r.id, Command: r.label, Cwd: r.dir, Started: r.started.UTC().Format("2006-01-02T15:04:05.000Z"), Origin: r.origin, PID: r.pid, Background: r.background}
}

func (s *server) snapshotFolders() []*folder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.folders
}

type runStatus struct {
	RunID   string `json:"runId"`
	Command string `json:"command"`
	Cwd     string `json:"cwd"`
	Started string `json:"started"`
	// Background: started with background: true; it lives until
	// sandbox/stop, its exit or the server's end.
	Background bool `json:"background,omitempty"`
	// Origin is who started the run: "editor" (sandbox/run), "cli",
	// "mcp" or "shell" (routed through the control socket).
	Origin string `json:"origin"`
	PID    int    `json:"pid,omitempty"` // a routed run's client process
}

type folderStatus struct {
	Root string `json:"root"`
	// PolicyFile is null when the folder has no .sandbox.toml (the
	// defaults apply); Trusted is then false: there is nothing trusted.
	PolicyFile *string `json:"policyFile"`
	PolicyHash string  `json:"policyHash"`
	Trusted    bool    `json:"trusted"`
	Error      string  `json:"error,omitempty"`
	// LastGood: the file on disk is invalid (Error says why) and the last
	// good policy is the one in force.
	LastGood bool `json:"lastGood,omitempty"`
	// Untrusted lists what the file widens that is not in force until its
	// content is trusted.
	Untrusted []widening `json:"untrusted,omitempty"`
}

type widening struct {
	Kind   string `json:"kind"`
	Target string `json:"target"`
	Line   int    `json:"line"`
}

type status struct {
	folderStatus
	Backend      string            `json:"backend"`
	Layers       string            `json:"layers,omitempty"` // every layer in force: "bwrap + seccomp + Landlock ABI 7"
	Capabilities map[string]string `json:"capabilities"`
	Runs         []runStatus       `json:"runs"`
	Folders      []folderStatus    `json:"folders"`
}

func (s *server) status() status {
	st := status{Backend: s.opts.Backend, Layers: s.opts.Layers, Capabilities: s.opts.Capabilities, Runs: []runStatus{}}
	if st.Capabilities == nil {
		st.Capabilities = map[string]string{}
	}
	for i, f := range s.snapshotFolders() {
		fs := f.status()
		if i == 0 {
			st.folderStatus = fs
		}
		st.Folders = append(st.Folders, fs)
	}
	s.mu.Lock()
	for _, r := range s.runs {
		st.Runs = append(st.Runs, r.status())
	}
	s.mu.Unlock()
	sort.Slice(st.Runs, func(i, j int) bool { return st.Runs[i].Started < st.Runs[j].Started })
	return st
}

func (s *server) executeCommand(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		Command   string            `json:"command"`
		Arguments []json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "executeCommand: %v", err)
	}
	switch p.Command {
	case cmdRun:
		if len(p.Arguments) != 1 {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%s takes one argument, the sandbox/run params", cmdRun)
		}
		var rp runParams
		if err := json.Unmarshal(p.Arguments[0], &rp); err != nil {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "%s: %v", cmdRun, err)
		}
		return s.run(ctx, rp)
	case cmdStatus:
		return s.status(), nil
	case cmdReload:
		for _, f := range s.snapshotFolders() {
			f.reload()
		}
		return s.status(), nil
	}
	if res, ok, err := s.editorCommand(ctx, p.Command, p.Arguments); ok {
		return res, err
	}
	return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "unknown command %q", p.Command)
}

// folderFor returns the served folder holding dir (the deepest one).
func (s *server) folderFor(dir string) *folder {
	var best *folder
	for _, f := range s.snapshotFolders() {
		if within(f.root, dir) && (best == nil || len(f.root) > len(best.root)) {
			best = f
		}
	}
	return best
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}
