package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/protocol"
)

func labels(items []completionItem) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Label)
	}
	return strings.Join(out, " ")
}

func at(line, char int) protocol.Position {
	return protocol.Position{Line: uint32(line), Character: uint32(char)}
}

func TestCompleteAt(t *testing.T) {
	doc := "# policy\n[network]\nallow = [\"a.example\"]\nunknown = \n\n[fil\n"
	// A key of [network] not given yet, then the tables not present.
	got := labels(completeAt(doc, at(4, 0), false))
	if !strings.HasPrefix(got, "deny allow_unix_sockets publish [filesystem] [git] [env] [limits]") || strings.Contains(got, "allow ") || strings.Contains(got, "[network]") {
		t.Errorf("keys at a new line of [network]: %q", got)
	}
	// An enumerated value after "=", replacing what was typed.
	items := completeAt(doc, at(3, 10), false)
	if labels(items) != `"ask" "deny"` || items[0].TextEdit.NewText != `"ask"` || items[0].TextEdit.Range.Start.Character != 10 {
		t.Errorf("values of unknown: %+v", items)
	}
	items = completeAt("[network]\nunknown = \"d", at(1, 12), false)
	if labels(items) != `"ask" "deny"` || items[1].TextEdit.Range.Start.Character != 10 {
		t.Errorf("values after an opening quote: %+v", items)
	}
	// A header being typed: every table, replacing the "[".
	items = completeAt(doc, at(5, 4), false)
	if labels(items) != "filesystem network git env limits" || items[0].TextEdit.NewText != "[filesystem]" {
		t.Errorf("tables in a header: %q", labels(items))
	}
	// Snippets when the client takes them; documentation from the table.
	items = completeAt("[limits]\n", at(1, 0), true)
	if len(items) == 0 || items[0].Label != "timeout" || items[0].InsertTextFormat != 2 || !strings.Contains(items[0].Documentation.Value, "duration") {
		t.Errorf("limits keys: %+v", items)
	}
	items = completeAt("[network]\n", at(1, 0), true)
	for _, it := range items {
		if it.Label == "unknown" && it.TextEdit.NewText != `unknown = "${1|ask,deny|}"` {
			t.Errorf("unknown snippet %q", it.TextEdit.NewText)
		}
	}
	// Nothing in comments, inside a multi-line array, or for unknown keys.
	for _, c := range []struct {
		doc string
		pos protocol.Position
	}{
		{"[network]\n# allo", at(1, 6)},
		{"[network]\nallow = [\n  \n]\n", at(2, 2)},
		{"[network]\nbogus = ", at(1, 8)},
	} {
		if got := completeAt(c.doc, c.pos, false); len(got) != 0 {
			t.Errorf("%q at %v: %q, want nothing", c.doc, c.pos, labels(got))
		}
	}
}

func TestHoverAt(t *testing.T) {
	doc := "[network]\nunknown = \"ask\" # unknown here is a comment\nallow = [\n  \"deny\",\n]\n"
	for _, c := range []struct {
		pos  protocol.Position
		want string
	}{
		{at(0, 3), "**[network]**"},
		{at(1, 2), "**network.unknown**"},
		{at(2, 1), "**network.allow**"},
		{at(1, 25), ""}, // comment
		{at(3, 4), ""},  // a value inside an array is not a key
		{at(1, 12), ""}, // a value
	} {
		h := hoverAt(doc, c.pos)
		switch {
		case c.want == "" && h != nil:
			t.Errorf("hover at %v: %q, want none", c.pos, h.Contents.Value)
		case c.want != "" && (h == nil || !strings.HasPrefix(h.Contents.Value, c.want)):
			t.Errorf("hover at %v: %+v, want %s", c.pos, h, c.want)
		}
	}
	if h := hoverAt("network.deny = []\n", at(0, 10)); h == nil || !strings.HasPrefix(h.Contents.Value, "**network.deny**") {
		t.Errorf("dotted key: %+v", h)
	}
}

func TestSymbolsOf(t *testing.T) {
	doc := "# c\n[filesystem]\nallow_write = [\n  \"a\",\n]\ndeny_read = [\"b\"] # x\n\n[network]\nunknown = \"ask\"\n"
	syms := symbolsOf(doc)
	if len(syms) != 2 || syms[0].Name != "filesystem" || syms[1].Name != "network" {
		t.Fatalf("tables: %+v", syms)
	}
	fs := syms[0]
	if fs.Range.Start.Line != 1 || fs.Range.End.Line != 5 || len(fs.Children) != 2 {
		t.Errorf("[filesystem] %+v", fs)
	}
	if aw := fs.Children[0]; aw.Name != "allow_write" || aw.Range.End.Line != 4 || aw.Detail != "[ …" || aw.SelectionRange.End.Character != 11 {
		t.Errorf("allow_write %+v", aw)
	}
	if dr := fs.Children[1]; dr.Name != "deny_read" || dr.Detail != `["b"]` {
		t.Errorf("deny_read %+v", dr)
	}
	if n := syms[1]; len(n.Children) != 1 || n.Children[0].Name != "unknown" || n.Range.End.Line != 8 {
		t.Errorf("[network] %+v", n)
	}
}

func TestApplyChange(t *testing.T) {
	text := "héllo\n𝄞x\n"
	r := func(l1, c1, l2, c2 int) *protocol.Range {
		return &protocol.Range{Start: at(l1, c1), End: at(l2, c2)}
	}
	for _, c := range []struct {
		ch   contentChange
		want string
	}{
		{contentChange{Range: r(0, 1, 0, 2), Text: "e"}, "hello\n𝄞x\n"},
		{contentChange{Range: r(1, 2, 1, 3), Text: "y"}, "héllo\n𝄞y\n"}, // the clef is 2 UTF-16 units
		{contentChange{Range: r(2, 0, 2, 0), Text: "z"}, "héllo\n𝄞x\nz"},
		{contentChange{Text: "all"}, "all"},
	} {
		got, err := applyChange(text, c.ch)
		if err != nil || got != c.want {
			t.Errorf("%+v: %q %v, want %q", c.ch, got, err, c.want)
		}
	}
	if _, err := applyChange(text, contentChange{Range: r(5, 0, 5, 0)}); err == nil {
		t.Error("a change past the end applied")
	}
}

// Through the protocol: a policy file being typed is validated on each
// change, before it is saved, and what is on disk shows again on close.
func TestLiveValidation(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	good := "[network]\nunknown = \"ask\"\n"
	writeFile(t, file, good)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	u := "file://" + file
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": u, "languageId": "toml", "version": 1, "text": good}})
	c.mark()
	c.notify("textDocument/didChange", map[string]any{
		"textDocument":   map[string]any{"uri": u, "version": 2},
		"contentChanges": []map[string]any{{"range": map[string]any{"start": at(1, 11), "end": at(1, 14)}, "text": "maybe"}},
	})
	d := c.waitDiags(file, 3*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 1 })
	if g := d.Diagnostics[0]; g.Code != "policy-error" || !strings.Contains(g.Message, `"maybe"`) || g.Range.Start.Line != 1 {
		t.Errorf("live diagnostic %+v", g)
	}
	// The file on disk is untouched and still in force.
	var st map[string]any
	if err := c.request("sandbox/status", nil, &st); err != nil || st["lastGood"] != nil {
		t.Fatalf("status while typing: %v %v", st, err)
	}
	// Completion and symbols see the unsaved text.
	var items []completionItem
	if err := c.request("textDocument/completion", map[string]any{"textDocument": map[string]any{"uri": u}, "position": at(1, 10)}, &items); err != nil {
		t.Fatal(err)
	}
	if labels(items) != `"ask" "deny"` {
		t.Errorf("completion over the protocol: %q", labels(items))
	}
	var hv hoverResult
	if err := c.request("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": u}, "position": at(0, 2)}, &hv); err != nil || !strings.Contains(hv.Contents.Value, "[network]") {
		t.Errorf("hover over the protocol: %+v %v", hv, err)
	}
	var syms []documentSymbol
	if err := c.request("textDocument/documentSymbol", map[string]any{"textDocument": map[string]any{"uri": u}}, &syms); err != nil || len(syms) != 1 || syms[0].Children[0].Detail != `"maybe"` {
		t.Errorf("symbols over the protocol: %+v %v", syms, err)
	}
	// Closing without saving: the disk's (clean) diagnostics again.
	c.mark()
	c.notify("textDocument/didClose", map[string]any{"textDocument": map[string]any{"uri": u}})
	c.waitDiags(file, 3*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 0 })
	// A file that is not a policy gets nothing.
	var none []completionItem
	if err := c.request("textDocument/completion", map[string]any{"textDocument": map[string]any{"uri": "file://" + e.root + "/main.go"}, "position": at(0, 0)}, &none); err != nil || len(none) != 0 {
		t.Errorf("completion in main.go: %v %v", none, err)
	}
	raw, _ := json.Marshal(none)
	if string(raw) != "[]" {
		t.Errorf("completion elsewhere is %s, want []", raw)
	}
}
