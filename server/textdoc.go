package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/cordon-dev/cordon/workspace"
)

// docs holds the text of the policy files the editor has open, kept in
// step with didOpen/didChange/didClose, so completion, hover and symbols
// see what the user sees and validation runs while typing. Documents that
// are not policy files are not kept.
type docs struct {
	mu   sync.Mutex
	text map[protocol.DocumentURI]string
}

// policyDoc reports whether u names a policy file: a workspace
// .sandbox.toml (at any depth: an editor may open one of a sub-project)
// or the user defaults file; file is its path.
func (s *server) policyDoc(u protocol.DocumentURI) (file string, ok bool) {
	if !strings.HasPrefix(string(u), "file:") {
		return "", false
	}
	file = uri.URI(u).Filename()
	if filepath.Base(file) == ".sandbox.toml" {
		return file, true
	}
	for _, f := range s.snapshotFolders() {
		if file == f.dirs.UserFile() {
			return file, true
		}
	}
	return "", false
}

type textDocumentItem struct {
	URI  protocol.DocumentURI `json:"uri"`
	Text string               `json:"text"`
}

type contentChange struct {
	Range *protocol.Range `json:"range"`
	Text  string          `json:"text"`
}

// textSync handles the text document notifications.
func (s *server) textSync(method string, params json.RawMessage) {
	var p struct {
		TextDocument   textDocumentItem `json:"textDocument"`
		ContentChanges []contentChange  `json:"contentChanges"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		s.log.Warn("bad text document notification", "method", method, "err", err)
		return
	}
	u := p.TextDocument.URI
	if _, ok := s.policyDoc(u); !ok {
		return
	}
	s.docs.mu.Lock()
	if s.docs.text == nil {
		s.docs.text = map[protocol.DocumentURI]string{}
	}
	switch method {
	case "textDocument/didOpen":
		s.docs.text[u] = p.TextDocument.Text
	case "textDocument/didChange":
		text, ok := s.docs.text[u]
		if !ok {
			s.docs.mu.Unlock()
			s.log.Warn("didChange of a document never opened", "uri", u)
			return
		}
		for _, c := range p.ContentChanges {
			var err error
			if text, err = applyChange(text, c); err != nil {
				// Out of step with the editor: forget the text rather
				// than validate something the user does not see.
				delete(s.docs.text, u)
				s.docs.mu.Unlock()
				s.log.Warn("applying a change", "uri", u, "err", err)
				s.diags.clear(liveGroup(u), s.publish)
				return
			}
		}
		s.docs.text[u] = text
	case "textDocument/didClose":
		delete(s.docs.text, u)
		s.docs.mu.Unlock()
		s.diags.clear(liveGroup(u), s.publish) // what is on disk shows again
		return
	case "textDocument/didSave":
		// The watcher reloads the file from disk.
		s.docs.mu.Unlock()
		return
	}
	text := s.docs.text[u]
	s.docs.mu.Unlock()
	s.validate(u, text)
}

// document returns the open text of u, or the file's content on disk.
func (s *server) document(u protocol.DocumentURI) (string, error) {
	s.docs.mu.Lock()
	text, ok := s.docs.text[u]
	s.docs.mu.Unlock()
	if ok {
		return text, nil
	}
	file, ok := s.policyDoc(u)
	if !ok {
		return "", fmt.Errorf("%s is not a policy file", u)
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}

func liveGroup(u protocol.DocumentURI) string { return "live:" + string(u) }

// validate checks text as the policy file u would be, and shows the result
// in place of what the file on disk gave while the two differ.
func (s *server) validate(u protocol.DocumentURI, text string) {
	file, _ := s.policyDoc(u)
	if disk, err := os.ReadFile(file); err == nil && string(disk) == text {
		// Saved: the folder's own (merged) diagnostics are the truth.
		s.diags.clear(liveGroup(u), s.publish)
		return
	}
	// A folder's own file or the user file is read as the folder reads
	// it; another .sandbox.toml as its own directory's.
	root, dirs := filepath.Dir(file), s.opts.Dirs
	for _, f := range s.snapshotFolders() {
		if file == f.file || file == f.dirs.UserFile() {
			root, dirs = f.root, f.dirs
			break
		}
		if within(f.root, file) {
			dirs = f.dirs
		}
	}
	var ds []workspace.Diagnostic
	pf, err := workspace.Parse(file, []byte(text), dirs, root)
	var pe *workspace.PolicyError
	switch {
	case errors.As(err, &pe):
		ds = pe.Diagnostics
	case err != nil:
		ds = []workspace.Diagnostic{{File: file, Line: 1, Col: 1, Severity: workspace.SeverityError, Message: err.Error()}}
	default:
		ds = pf.Warnings()
	}
	lines := splitLines(text)
	out := []protocol.Diagnostic{}
	for _, d := range ds {
		code, sev := "policy-warning", protocol.DiagnosticSeverityWarning
		if d.Severity == workspace.SeverityError {
			code, sev = "policy-error", protocol.DiagnosticSeverityError
		}
		out = append(out, protocol.Diagnostic{Range: rangeIn(lines, d), Severity: sev, Code: code, Source: "cordon", Message: d.Message})
	}
	s.log.Debug("validated policy being edited", "file", file, "diagnostics", len(out))
	s.diags.set(liveGroup(u), map[protocol.DocumentURI][]protocol.Diagnostic{u: out}, s.publish)
}

func splitLines(text string) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// applyChange applies one content change (a whole text without a range).
func applyChange(text string, c contentChange) (string, error) {
	if c.Range == nil {
		return c.Text, nil
	}
	start, err := offsetAt(text, c.Range.Start)
	if err != nil {
		return "", err
	}
	end, err := offsetAt(text, c.Range.End)
	if err != nil {
		return "", err
	}
	if end < start {
		return "", fmt.Errorf("range ends before it starts")
	}
	return text[:start] + c.Text + text[end:], nil
}

// offsetAt converts an LSP position (0-based line, UTF-16 units) to a byte
// offset in text; a character past the end of its line means the line's end.
func offsetAt(text string, p protocol.Position) (int, error) {
	off := 0
	for line := uint32(0); line < p.Line; line++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("line %d is past the end (%d lines)", p.Line, line+1)
		}
		off += i + 1
	}
	units := uint32(0)
	for off < len(text) && text[off] != '\n' && units < p.Character {
		r, size := utf8.DecodeRuneInString(text[off:])
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1 // an invalid byte: the editor counts one unit
		}
		units += uint32(n)
		off += size
	}
	return off, nil
}

// positionAt is offsetAt's inverse.
func positionAt(text string, off int) protocol.Position {
	if off > len(text) {
		off = len(text)
	}
	line := strings.Count(text[:off], "\n")
	start := strings.LastIndexByte(text[:off], '\n') + 1
	return protocol.Position{Line: uint32(line), Character: uint32(utf16Len(text[start:off]))}
}
