package server

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode/utf16"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// diagStore holds diagnostics by URI and by group (a folder's policy
// errors, its violations), so one group can be replaced or cleared without
// touching the others, and publishes whole per-URI sets as LSP requires.
type diagStore struct {
	mu    sync.Mutex
	byURI map[protocol.DocumentURI]map[string][]protocol.Diagnostic
}

func newDiagStore() *diagStore {
	return &diagStore{byURI: map[protocol.DocumentURI]map[string][]protocol.Diagnostic{}}
}

type publishFunc func(u protocol.DocumentURI, d []protocol.Diagnostic)

// set replaces group's diagnostics on the given URIs (others of the group
// are cleared) and publishes every URI that changed.
func (d *diagStore) set(group string, diags map[protocol.DocumentURI][]protocol.Diagnostic, publish publishFunc) {
	d.mu.Lock()
	changed := map[protocol.DocumentURI]bool{}
	for u, groups := range d.byURI {
		if _, ok := groups[group]; ok {
			delete(groups, group)
			changed[u] = true
		}
	}
	for u, ds := range diags {
		if d.byURI[u] == nil {
			d.byURI[u] = map[string][]protocol.Diagnostic{}
		}
		d.byURI[u][group] = ds
		changed[u] = true
	}
	out := d.collect(changed)
	d.mu.Unlock()
	for _, o := range out {
		publish(o.uri, o.diags)
	}
}

// add appends to group's diagnostics on one URI.
func (d *diagStore) add(group string, u protocol.DocumentURI, diag protocol.Diagnostic, publish publishFunc) {
	d.mu.Lock()
	if d.byURI[u] == nil {
		d.byURI[u] = map[string][]protocol.Diagnostic{}
	}
	d.byURI[u][group] = append(d.byURI[u][group], diag)
	out := d.collect(map[protocol.DocumentURI]bool{u: true})
	d.mu.Unlock()
	for _, o := range out {
		publish(o.uri, o.diags)
	}
}

func (d *diagStore) clear(group string, publish publishFunc) { d.set(group, nil, publish) }

// clearPrefix clears every group whose name starts with prefix.
func (d *diagStore) clearPrefix(prefix string, publish publishFunc) {
	d.mu.Lock()
	changed := map[protocol.DocumentURI]bool{}
	for u, groups := range d.byURI {
		for g := range groups {
			if strings.HasPrefix(g, prefix) {
				delete(groups, g)
				changed[u] = true
			}
		}
	}
	out := d.collect(changed)
	d.mu.Unlock()
	for _, o := range out {
		publish(o.uri, o.diags)
	}
}

// violationGroup holds one run's violations in folder root: each run's
// stay until cleared (by the user, or by a policy change).
func violationGroup(root, runID string) string { return "violations:" + root + "\x00" + runID }

func (s *server) clearViolations(f *folder, runID string) {
	if runID == "" {
		s.diags.clearPrefix(violationGroup(f.root, ""), s.publish)
		return
	}
	s.diags.clear(violationGroup(f.root, runID), s.publish)
}

type uriDiags struct {
	uri   protocol.DocumentURI
	diags []protocol.Diagnostic
}

func (d *diagStore) collect(changed map[protocol.DocumentURI]bool) []uriDiags {
	var out []uriDiags
	for u := range changed {
		all := []protocol.Diagnostic{}
		groups := make([]string, 0, len(d.byURI[u]))
		for g := range d.byURI[u] {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		live := false
		for _, g := range groups {
			live = live || strings.HasPrefix(g, "live:")
		}
		for _, g := range groups {
			if live && strings.HasPrefix(g, "policy:") {
				continue // the text being edited stands in for the file on disk
			}
			all = append(all, d.byURI[u][g]...)
		}
		if len(all) == 0 {
			delete(d.byURI, u)
		}
		out = append(out, uriDiags{u, all})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uri < out[j].uri })
	return out
}

func (s *server) publish(u protocol.DocumentURI, d []protocol.Diagnostic) {
	if !s.ready.Load() {
		return // kept in the store; startWatching publishes it all
	}
	if err := s.conn.notify("textDocument/publishDiagnostics", protocol.PublishDiagnosticsParams{URI: u, Diagnostics: d}); err != nil {
		s.log.Warn("publishing diagnostics", "uri", u, "err", err)
	}
}

// publishPolicy shows a folder's policy errors or warnings; files lists
// every policy file of the folder so a fixed one is cleared.
func (s *server) publishPolicy(f *folder, files []string, ds []workspace.Diagnostic) {
	out := map[protocol.DocumentURI][]protocol.Diagnostic{}
	for _, file := range files {
		out[protocol.DocumentURI(uri.File(file))] = nil // cleared unless refilled
	}
	for _, d := range ds {
		code, sev := "policy-warning", protocol.DiagnosticSeverityWarning
		if d.Severity == workspace.SeverityError {
			code, sev = "policy-error", protocol.DiagnosticSeverityError
		}
		file := d.File
		if file == "" {
			file = f.file
		}
		u := protocol.DocumentURI(uri.File(file))
		out[u] = append(out[u], protocol.Diagnostic{
			Range:    policyRange(file, d),
			Severity: sev,
			Code:     code,
			Source:   "cordon",
			Message:  d.Message,
		})
	}
	s.diags.set("policy:"+f.root, out, s.publish)
}

// policyRange converts 1-based line/column (bytes) to an LSP range (0-based,
// UTF-16), ending at the end of the line when the end is unknown.
func policyRange(file string, d workspace.Diagnostic) protocol.Range {
	return rangeIn(readLines(file), d)
}

// rangeIn is policyRange over the file's lines.
func rangeIn(lines []string, d workspace.Diagnostic) protocol.Range {
	pos := func(line, col int) protocol.Position {
		if line < 1 {
			line = 1
		}
		if col < 1 {
			col = 1
		}
		text := ""
		if line-1 < len(lines) {
			text = lines[line-1]
		}
		if col-1 > len(text) {
			col = len(text) + 1
		}
		return protocol.Position{Line: uint32(line - 1), Character: uint32(utf16Len(text[:col-1]))}
	}
	start := pos(d.Line, d.Col)
	var end protocol.Position
	if d.EndLine > 0 {
		end = pos(d.EndLine, d.EndCol)
	} else {
		text := ""
		if d.Line-1 < len(lines) && d.Line >= 1 {
			text = lines[d.Line-1]
		}
		end = protocol.Position{Line: start.Line, Character: uint32(utf16Len(text))}
	}
	if end.Line < start.Line || (end.Line == start.Line && end.Character < start.Character) {
		end = start
	}
	return protocol.Range{Start: start, End: end}
}

func readLines(file string) []string {
	fh, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	return lines
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

var violationCodes = map[sandbox.Kind]string{
	sandbox.KindWrite:      "write-denied",
	sandbox.KindRead:       "read-denied",
	sandbox.KindNet:        "net-denied",
	sandbox.KindUnixSocket: "unix-socket-denied",
}

// violationData rides on a violation diagnostic so a code action can
// offer the rule that would have allowed it.
type violationData struct {
	Kind   sandbox.Kind `json:"kind"`
	Target string       `json:"target"`
	RunID  string       `json:"runId"`
	Root   string       `json:"root"`
}

// tableOf is the policy table whose rules decide violations of kind k.
func tableOf(k sandbox.Kind) string {
	if k == sandbox.KindNet || k == sandbox.KindUnixSocket {
		return "network"
	}
	return "filesystem"
}

// tableLine is the 1-based line of the [name] header in lines, else 1.
func tableLine(lines []string, name string) int {
	for i, l := range lines {
		if t := strings.TrimSpace(stripTOMLComment(l)); strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "[[") && tableName(t) == name {
			return i + 1
		}
	}
	return 1
}

// showViolation puts v on the touched file (inside the workspace) and on
// the deciding rule's line (the policy file's first line for defaults).
func (s *server) showViolation(f *folder, v sandbox.Violation) {
	msg := "blocked " + string(v.Kind) + " " + v.Target + " by " + v.Command
	if v.Rule.IsDefault() {
		msg += " (default)"
	} else {
		msg += " (" + v.Rule.String() + ")"
	}
	diag := protocol.Diagnostic{
		Severity: protocol.DiagnosticSeverityWarning,
		Code:     violationCodes[v.Kind],
		Source:   "cordon",
		Message:  msg,
		Data:     violationData{Kind: v.Kind, Target: v.Target, RunID: v.RunID, Root: f.root},
	}
	group := violationGroup(f.root, v.RunID)
	if v.Kind != sandbox.KindNet && filepath.IsAbs(v.Target) && within(f.root, v.Target) {
		d := diag
		d.Range = protocol.Range{}
		s.diags.add(group, protocol.DocumentURI(uri.File(v.Target)), d, s.publish)
	}
	file, line := f.file, 1
	if !v.Rule.IsDefault() {
		file, line = v.Rule.File, v.Rule.Line
	} else {
		// A default decided it: show it on the table the fixing rule goes
		// in, when the file has one (the quick fix creates it otherwise).
		line = tableLine(readLines(f.file), tableOf(v.Kind))
	}
	d := diag
	d.Range = policyRange(file, workspace.Diagnostic{Line: line, Col: 1})
	s.diags.add(group, protocol.DocumentURI(uri.File(file)), d, s.publish)
}
