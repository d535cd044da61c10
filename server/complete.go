package server

import (
	"encoding/json"
	"strings"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/cordon-dev/cordon/workspace"
)

type positionParams struct {
	TextDocument struct {
		URI protocol.DocumentURI `json:"uri"`
	} `json:"textDocument"`
	Position protocol.Position `json:"position"`
}

// Completion item kinds (LSP).
const (
	itemKindModule   = 9
	itemKindProperty = 10
	itemKindValue    = 12
	itemKindEnum     = 20
)

type completionItem struct {
	Label            string          `json:"label"`
	Kind             int             `json:"kind"`
	Detail           string          `json:"detail,omitempty"`
	Documentation    *markup         `json:"documentation,omitempty"`
	InsertText       string          `json:"insertText,omitempty"`
	InsertTextFormat int             `json:"insertTextFormat,omitempty"` // 1 plain, 2 snippet
	TextEdit         *textEdit       `json:"textEdit,omitempty"`
	FilterText       string          `json:"filterText,omitempty"`
	SortText         string          `json:"sortText,omitempty"`
	Data             json.RawMessage `json:"data,omitempty"`
}

type markup struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type textEdit struct {
	Range   protocol.Range `json:"range"`
	NewText string         `json:"newText"`
}

// completion offers, from workspace.Tables, what may come at the cursor
// of a policy file: a table name in a header, a key of the current table
// (not yet given) at the start of a line, an enumerated value after "=".
func (s *server) completion(params json.RawMessage) (any, error) {
	var p positionParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "completion: %v", err)
	}
	if _, ok := s.policyDoc(p.TextDocument.URI); !ok {
		return []completionItem{}, nil
	}
	text, err := s.document(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	snippets := s.client.snippets
	s.mu.Unlock()
	return completeAt(text, p.Position, snippets), nil
}

func completeAt(text string, pos protocol.Position, snippets bool) []completionItem {
	lines := splitLines(text)
	if int(pos.Line) >= len(lines) {
		return []completionItem{}
	}
	line := lines[pos.Line]
	off, _ := offsetAt(line, protocol.Position{Character: pos.Character})
	before := line[:off]
	if len(stripTOMLComment(before)) < len(before) {
		return []completionItem{} // in a comment
	}
	trimmed := strings.TrimLeft(before, " \t")
	lineStart := protocol.Position{Line: pos.Line, Character: uint32(utf16Len(before[:len(before)-len(trimmed)]))}
	items := []completionItem{}

	// [tab|
	if strings.HasPrefix(trimmed, "[") && !strings.Contains(trimmed, "]") {
		for i, t := range workspace.Tables() {
			t := t
			items = append(items, completionItem{
				Label: t.Name, Kind: itemKindModule, Detail: "table",
				Documentation: &markup{"markdown", t.Markdown()},
				TextEdit:      &textEdit{Range: protocol.Range{Start: lineStart, End: pos}, NewText: "[" + t.Name + "]"},
				FilterText:    "[" + t.Name, SortText: sortKey(i),
			})
		}
		return items
	}
	table := tableAt(lines, int(pos.Line)-1)
	if h := scanLine(line).header; h != "" {
		return items
	}

	// key = |value
	if eq := strings.IndexByte(stripTOMLComment(before), '='); eq >= 0 {
		key := unquoteTOMLKey(strings.TrimSpace(before[:eq]))
		k, ok := workspace.LookupKey(table, key)
		if !ok {
			return items
		}
		rest := before[eq+1:]
		valStart := protocol.Position{Line: pos.Line, Character: uint32(utf16Len(before[:eq+1+len(rest)-len(strings.TrimLeft(rest, " \t"))]))}
		var values []string
		for _, v := range k.Values {
			values = append(values, `"`+v+`"`)
		}
		if k.Value == "true or false" {
			values = []string{"true", "false"}
		}
		for i, v := range values {
			items = append(items, completionItem{
				Label: v, Kind: itemKindEnum, Detail: table + "." + key,
				Documentation: &markup{"markdown", k.Markdown(table)},
				TextEdit:      &textEdit{Range: protocol.Range{Start: valStart, End: pos}, NewText: v},
				SortText:      sortKey(i),
			})
		}
		return items
	}
	if inValue(lines, int(pos.Line)) {
		return items
	}

	// |key, or a new [table]
	if t, ok := workspace.LookupTable(table); ok {
		given := map[string]bool{}
		for i := int(pos.Line) + 1; i < len(lines) && scanLine(lines[i]).header == ""; i++ {
			given[scanLine(lines[i]).key] = true
		}
		for i := int(pos.Line) - 1; i >= 0 && scanLine(lines[i]).header == ""; i-- {
			given[scanLine(lines[i]).key] = true
		}
		for i, k := range t.Keys {
			if given[k.Name] {
				continue
			}
			insert, format := k.Name+" = ", 1
			if snippets {
				insert, format = k.Name+" = "+snippetFor(k), 2
			}
			items = append(items, completionItem{
				Label: k.Name, Kind: itemKindProperty, Detail: k.Value,
				Documentation:    &markup{"markdown", k.Markdown(table)},
				TextEdit:         &textEdit{Range: protocol.Range{Start: lineStart, End: pos}, NewText: insert},
				InsertTextFormat: format, SortText: sortKey(i),
			})
		}
	}
	present := map[string]bool{}
	for _, l := range lines {
		if h := scanLine(l).header; h != "" {
			present[h] = true
		}
	}
	for i, t := range workspace.Tables() {
		if present[t.Name] {
			continue
		}
		items = append(items, completionItem{
			Label: "[" + t.Name + "]", Kind: itemKindModule, Detail: "table",
			Documentation: &markup{"markdown", t.Markdown()},
			TextEdit:      &textEdit{Range: protocol.Range{Start: lineStart, End: pos}, NewText: "[" + t.Name + "]"},
			SortText:      "z" + sortKey(i),
		})
	}
	return items
}

// snippetFor is the value placeholder for a key: the enumerated choices,
// or the brackets of a list.
func snippetFor(k workspace.Key) string {
	switch {
	case len(k.Values) > 0:
		return `"${1|` + strings.Join(k.Values, ",") + `|}"`
	case k.IsArray():
		return `["$1"]`
	case k.IsTable():
		return `{ $1 }`
	case k.Value == "true or false":
		return `${1|false,true|}`
	}
	return "$1"
}

func sortKey(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }
