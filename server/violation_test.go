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
		want string
	}{{netDiag, `allow = [\"pkg.example:443\"]`}, {outDiag, `allow_write = [\"/opt/out\"]`}} {
		var actions []json.RawMessage
		err := c.request("textDocument/codeAction", map[string]any{
			"textDocument": map[string]any{"uri": "file://" + file},
			"range":        map[string]any{"start": map[string]int{"line": 0, "character": 0}, "end": map[string]int{"line": 0, "character": 0}},
			"context":      map[string]any{"diagnostics": []json.RawMessage{tc.diag}},
		}, &actions)
		if err != nil {
			t.Fatal(err)
		}
		if len(actions) != 1 || !strings.Contains(string(actions[0]), tc.want) || !strings.Contains(string(actions[0]), `"quickfix"`) {
			t.Errorf("code actions %s, want one adding %s", actions, tc.want)
		}
		if mustField(t, actions[0], "edit") == nil {
			t.Error("quick fix without an edit")
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
