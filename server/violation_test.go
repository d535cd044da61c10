package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"go.lsp.dev/jsonrpc2"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

func TestViolationDiagnosticsAndQuickFix(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(t, file, "# policy\n[filesystem]\ndeny_write = [\"*.pem\"]\n")
	touched := filepath.Join(e.root, "key.pem")
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		p := req.Policy()
		vs := []sandbox.Violation{
			{RunID: req.RunID, Command: req.Label, Kind: sandbox.KindWrite, Target: touched, Rule: p.Filesystem.DenyWrite[0].Source, Time: time.Now()},
			{RunID: req.RunID, Command: req.Label, Kind: sandbox.KindNet, Target: "pkg.example:443", Time: time.Now()},
			{RunID: req.RunID, Command: req.Label, Kind: sandbox.KindWrite, Target: "/opt/out/file", Time: time.Now()},
		}
		for _, v := range vs {
			req.OnViolation(v)
		}
		return &runner.Outcome{ExitCode: 1, Violations: vs}, nil
	})
	c := startServer(t, e, exe, nil)
	c.initialize(e, nil)
	var res runResult
	if err := c.request("sandbox/run", map[string]any{"command": "make"}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != 3 || res.Violations[0].Kind != sandbox.KindWrite {
		t.Fatalf("result violations %+v", res.Violations)
	}
	for _, kind := range []string{`"kind":"write"`, `"kind":"net"`} {
		c.waitNote(2*time.Second, func(n *jsonrpc2.Notification) bool {
			return n.Method() == "sandbox/violation" && strings.Contains(string(n.Params()), kind)
		})
	}
	// On the touched file inside the workspace.
	d := c.waitDiags(touched, 2*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 1 })
	if g := d.Diagnostics[0]; g.Code != "write-denied" || g.Source != "cordon" || !strings.Contains(g.Message, "make") {
		t.Errorf("touched-file diagnostic %+v", g)
	}
	// On the policy: the deny_write line, and the first line for defaults.
	pd := c.waitDiags(file, 2*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 3 })
	var netDiag, outDiag json.RawMessage
	for _, g := range pd.Diagnostics {
		raw, _ := json.Marshal(g)
		switch {
		case g.Code == "write-denied" && strings.Contains(g.Message, "key.pem"):
			if g.Range.Start.Line != 2 {
				t.Errorf("deny_write violation on line %d, want 2", g.Range.Start.Line)
			}
		case g.Code == "net-denied":
			netDiag = raw
			if g.Range.Start.Line != 0 {
				t.Errorf("default net violation on line %d, want 0", g.Range.Start.Line)
			}
		case g.Code == "write-denied":
			outDiag = raw
		default:
			t.Errorf("unexpected diagnostic %+v", g)
		}
	}
	if netDiag == nil || outDiag == nil {
		t.Fatalf("diagnostics %+v", pd)
	}
	// Quick fixes: the narrowest rule, as an edit of .sandbox.toml.
	for _, tc := range []struct {
		diag json.RawMessage
		want []string
	}{
		{netDiag, []string{`allow = [\"pkg.example:443\"]`, `deny = [\"pkg.example\"]`}},
		{outDiag, []string{`allow_write = [\"/opt/out/file\"]`, `allow_write = [\"/opt/out\"]`}},
	} {
		var actions []json.RawMessage
		err := c.request("textDocument/codeAction", map[string]any{
			"textDocument": map[string]any{"uri": "file://" + file},
			"range":        map[string]any{"start": map[string]int{"line": 0, "character": 0}, "end": map[string]int{"line": 0, "character": 0}},
			"context":      map[string]any{"diagnostics": []json.RawMessage{tc.diag}},
		}, &actions)
		if err != nil {
			t.Fatal(err)
		}
		if len(actions) != len(tc.want) {
			t.Fatalf("code actions %s, want %d", actions, len(tc.want))
		}
		for i, want := range tc.want {
			if !strings.Contains(string(actions[i]), want) || !strings.Contains(string(actions[i]), `"quickfix"`) {
				t.Errorf("code action %d %s, want one adding %s", i, actions[i], want)
			}
			if mustField(t, actions[i], "edit") == nil {
				t.Error("quick fix without an edit")
			}
		}
	}
	// A policy change clears them.
	c.mark()
	writeFile(t, file, "# policy\n[filesystem]\ndeny_write = [\"*.key\"]\n")
	c.waitDiags(touched, 5*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 0 })
	c.waitDiags(file, 5*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 0 })
}

func mustField(t *testing.T, obj json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

// A write under the home directory is offered ~/-relative, file first; the
// home itself, / and a top-level tree are never offered.
func TestWriteFixesNarrowest(t *testing.T) {
	f := &folder{root: "/ws", dirs: workspace.Dirs{Home: "/home/u"}}
	rules := func(target string) []string {
		var out []string
		for _, x := range fixesFor(f, violationData{Kind: sandbox.KindWrite, Target: target}) {
			out = append(out, x.value)
		}
		return out
	}
	for target, want := range map[string][]string{
		"/home/u/.cache/x/y": {"~/.cache/x/y", "~/.cache/x"},
		"/home/u/.bashrc":    {"~/.bashrc"},
		"/etc/hosts":         {"/etc/hosts"},
		"/hosts":             {"/hosts"},
		"/var/lib/x/db":      {"/var/lib/x/db", "/var/lib/x"},
		"/ws/out/a.txt":      {"out/a.txt", "./out"},
		"/ws/a.pem":          {"./a.pem"},
	} {
		if got := rules(target); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: fixes %q, want %q", target, got, want)
		}
	}
}

// A default-decided violation sits on the table its fix goes in, and each
// run's diagnostics stay until that run's are cleared.
func TestDefaultViolationOnTableAndPerRun(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(t, file, "# policy\n\n[filesystem]\ndeny_write = [\"*.pem\"]\n\n[network]\nunknown = \"ask\"\n")
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		v := sandbox.Violation{RunID: req.RunID, Command: req.Label, Kind: sandbox.KindNet, Target: req.Label + ".example:443", Time: time.Now()}
		req.OnViolation(v)
		w := sandbox.Violation{RunID: req.RunID, Command: req.Label, Kind: sandbox.KindWrite, Target: "/opt/x/" + req.Label, Time: time.Now()}
		req.OnViolation(w)
		return &runner.Outcome{Violations: []sandbox.Violation{v, w}}, nil
	})
	c := startServer(t, e, exe, nil)
	c.initialize(e, nil)
	var r1, r2 runResult
	if err := c.request("sandbox/run", map[string]any{"command": "one", "label": "one"}, &r1); err != nil {
		t.Fatal(err)
	}
	if err := c.request("sandbox/run", map[string]any{"command": "two", "label": "two"}, &r2); err != nil {
		t.Fatal(err)
	}
	pd := c.waitDiags(file, 2*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 4 })
	for _, g := range pd.Diagnostics {
		want := 5 // [network]
		if g.Code == "write-denied" {
			want = 2 // [filesystem]
		}
		if g.Range.Start.Line != want {
			t.Errorf("%s on line %d, want %d", g.Message, g.Range.Start.Line, want)
		}
	}
	c.mark()
	if err := c.request("workspace/executeCommand", map[string]any{"command": cmdClearViolations, "arguments": []any{map[string]any{"runId": r1.RunID}}}, nil); err != nil {
		t.Fatal(err)
	}
	pd = c.waitDiags(file, 2*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 2 })
	for _, g := range pd.Diagnostics {
		if !strings.Contains(g.Message, "two") {
			t.Errorf("run one's diagnostic left after clearing it: %s", g.Message)
		}
	}
	if err := c.request("workspace/executeCommand", map[string]any{"command": cmdClearViolations, "arguments": []any{map[string]any{}}}, nil); err != nil {
		t.Fatal(err)
	}
	c.waitDiags(file, 2*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 0 })
}
