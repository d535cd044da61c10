package server

import (
	"encoding/json"
	"strings"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"

	"github.com/cordon-dev/cordon/workspace"
)

type hoverResult struct {
	Contents markup         `json:"contents"`
	Range    protocol.Range `json:"range"`
}

// hover documents the table or key under the cursor of a policy file,
// from workspace.Tables; null elsewhere.
func (s *server) hover(params json.RawMessage) (any, error) {
	var p positionParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "hover: %v", err)
	}
	if _, ok := s.policyDoc(p.TextDocument.URI); !ok {
		return nil, nil
	}
	text, err := s.document(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	if h := hoverAt(text, p.Position); h != nil {
		return h, nil
	}
	return nil, nil
}

func hoverAt(text string, pos protocol.Position) *hoverResult {
	lines := splitLines(text)
	if int(pos.Line) >= len(lines) {
		return nil
	}
	line := lines[pos.Line]
	off, _ := offsetAt(line, protocol.Position{Character: pos.Character})
	start, end := off, off
	isWord := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for start > 0 && isWord(line[start-1]) {
		start--
	}
	for end < len(line) && isWord(line[end]) {
		end++
	}
	if start == end {
		return nil
	}
	word := line[start:end]
	rng := protocol.Range{
		Start: protocol.Position{Line: pos.Line, Character: uint32(utf16Len(line[:start]))},
		End:   protocol.Position{Line: pos.Line, Character: uint32(utf16Len(line[:end]))},
	}
	if len(stripTOMLComment(line)) < start {
		return nil // in a comment
	}
	l := scanLine(line)
	switch {
	case l.header != "":
		// [network] or a dotted [a.b]: the part under the cursor.
		if t, ok := workspace.LookupTable(word); ok && strings.Contains(l.header, word) {
			return &hoverResult{Contents: markup{"markdown", t.Markdown()}, Range: rng}
		}
	case l.eq >= 0 && start < l.eq:
		table := tableAt(lines, int(pos.Line))
		key := word
		if dotted := strings.SplitN(l.key, ".", 2); table == "" && len(dotted) == 2 {
			// network.unknown = ... at the top: the table or the key.
			if word == dotted[0] {
				if t, ok := workspace.LookupTable(word); ok {
					return &hoverResult{Contents: markup{"markdown", t.Markdown()}, Range: rng}
				}
			}
			table, key = dotted[0], dotted[1]
		}
		if k, ok := workspace.LookupKey(table, key); ok && !inValue(lines, int(pos.Line)) {
			return &hoverResult{Contents: markup{"markdown", k.Markdown(table)}, Range: rng}
		}
	}
	return nil
}
