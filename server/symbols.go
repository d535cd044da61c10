package server

import (
	"encoding/json"
	"strings"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
)

// Symbol kinds (LSP).
const (
	symbolKindNamespace = 3
	symbolKindProperty  = 7
)

type documentSymbol struct {
	Name           string           `json:"name"`
	Detail         string           `json:"detail,omitempty"`
	Kind           int              `json:"kind"`
	Range          protocol.Range   `json:"range"`
	SelectionRange protocol.Range   `json:"selectionRange"`
	Children       []documentSymbol `json:"children,omitempty"`
}

// documentSymbol outlines a policy file: each table with its keys.
func (s *server) documentSymbol(params json.RawMessage) (any, error) {
	var p struct {
		TextDocument struct {
			URI protocol.DocumentURI `json:"uri"`
		} `json:"textDocument"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "documentSymbol: %v", err)
	}
	if _, ok := s.policyDoc(p.TextDocument.URI); !ok {
		return []documentSymbol{}, nil
	}
	text, err := s.document(p.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	return symbolsOf(text), nil
}

func symbolsOf(text string) []documentSymbol {
	lines := splitLines(text)
	out := []documentSymbol{}
	var cur *documentSymbol
	lineEnd := func(i int) protocol.Position {
		return protocol.Position{Line: uint32(i), Character: uint32(utf16Len(lines[i]))}
	}
	closeTable := func(last int) {
		if cur != nil {
			cur.Range.End = lineEnd(last)
			out = append(out, *cur)
			cur = nil
		}
	}
	lastCode := 0 // the last line holding more than a comment
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		l := scanLine(line)
		switch {
		case l.header != "":
			closeTable(lastCode)
			at := strings.Index(line, "[")
			sel := protocol.Range{
				Start: protocol.Position{Line: uint32(i), Character: uint32(utf16Len(line[:at]))},
				End:   lineEnd(i),
			}
			cur = &documentSymbol{Name: l.header, Kind: symbolKindNamespace, Range: protocol.Range{Start: sel.Start}, SelectionRange: sel}
		case l.eq >= 0 && !inValue(lines, i):
			// The value may run over lines (an array): to where it closes.
			last := i
			depth := bracketDepth(stripTOMLComment(line)[l.eq+1:])
			for depth > 0 && last+1 < len(lines) {
				last++
				depth += bracketDepth(stripTOMLComment(lines[last]))
			}
			value := strings.TrimSpace(stripTOMLComment(line)[l.eq+1:])
			if last > i {
				value += " …"
			}
			start := protocol.Position{Line: uint32(i), Character: uint32(utf16Len(line[:l.keyCol]))}
			sym := documentSymbol{
				Name: l.key, Detail: value, Kind: symbolKindProperty,
				Range:          protocol.Range{Start: start, End: lineEnd(last)},
				SelectionRange: protocol.Range{Start: start, End: protocol.Position{Line: uint32(i), Character: start.Character + uint32(utf16Len(strings.TrimSpace(line[l.keyCol:l.eq])))}},
			}
			if cur != nil {
				cur.Children = append(cur.Children, sym)
			} else {
				out = append(out, sym)
			}
			i = last
		}
		if strings.TrimSpace(stripTOMLComment(lines[i])) != "" {
			lastCode = i
		}
	}
	closeTable(lastCode)
	return out
}
