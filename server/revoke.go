package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/cordon-dev/cordon/workspace"
)

// Deletion removes Len bytes at Offset.
type Deletion struct {
	Offset, Len int
}

// Apply returns content with the deletion made.
func (d Deletion) Apply(content string) string { return content[:d.Offset] + content[d.Offset+d.Len:] }

// RemoveArrayValue computes the smallest deletion that takes the string
// value out of the array table.key, with its separating comma, keeping
// every other byte (comments and layout). The result is parsed again and
// must differ from the original only by that one element.
func RemoveArrayValue(content, table, key, value string) (Deletion, error) {
	lines := splitLinesKeep(content)
	cur := ""
	off := 0
	for _, line := range lines {
		lineStart := off
		off += len(line)
		trimmed := strings.TrimSpace(stripTOMLComment(line))
		if strings.HasPrefix(trimmed, "[") {
			cur = tableName(trimmed)
			continue
		}
		k, _, ok := strings.Cut(trimmed, "=")
		if !ok || !(cur == table && unquoteTOMLKey(strings.TrimSpace(k)) == key) {
			continue
		}
		eq := lineStart + strings.Index(line, "=")
		d, err := arrayDeletion(content, eq+1, value)
		if err != nil {
			return Deletion{}, fmt.Errorf("%s.%s: %w", table, key, err)
		}
		return verifiedDeletion(content, d, table, key, value)
	}
	return Deletion{}, fmt.Errorf("%s.%s holds no %q", table, key, value)
}

// arrayDeletion finds the element equal to value in the array after from.
func arrayDeletion(content string, from int, value string) (Deletion, error) {
	i := from
	for i < len(content) && (content[i] == ' ' || content[i] == '\t') {
		i++
	}
	if i >= len(content) || content[i] != '[' {
		return Deletion{}, fmt.Errorf("value is not an array")
	}
	type elem struct{ start, end int } // the literal's bytes
	var elems []elem
	var match = -1
	for i++; i < len(content); i++ {
		c := content[i]
		switch {
		case c == '#':
			for i < len(content) && content[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'':
			j, err := skipTOMLString(content, i)
			if err != nil {
				return Deletion{}, err
			}
			lit := content[i:j]
			var s string
			if c == '"' {
				if s, err = strconv.Unquote(lit); err != nil {
					s = ""
				}
			} else {
				s = strings.Trim(lit, "'")
			}
			if s == value && match < 0 {
				match = len(elems)
			}
			elems = append(elems, elem{i, j})
			i = j - 1
		case c == ']':
			if match < 0 {
				return Deletion{}, fmt.Errorf("no element %q", value)
			}
			e := elems[match]
			// Take the comma after it and the blanks up to the next element;
			// for the last one, the comma and blanks before it instead.
			end := e.end
			k := end
			for k < i && (content[k] == ' ' || content[k] == '\t') {
				k++
			}
			if k < i && content[k] == ',' {
				k++
				for k < i && (content[k] == ' ' || content[k] == '\t') {
					k++
				}
				return Deletion{Offset: e.start, Len: k - e.start}, nil
			}
			start := e.start
			if match > 0 {
				prev := elems[match-1].end
				between := content[prev:e.start]
				if strings.Trim(between, " \t,") == "" {
					start = prev // `"a" , "b"` → `"a"`
				} else if c := strings.IndexByte(between, ','); c >= 0 {
					start = prev + c // keep the line break and any comment
				}
			}
			return Deletion{Offset: start, Len: end - start}, nil
		}
	}
	return Deletion{}, fmt.Errorf("unterminated array")
}

func verifiedDeletion(content string, d Deletion, table, key, value string) (Deletion, error) {
	var before, after map[string]any
	if _, err := toml.Decode(content, &before); err != nil {
		return Deletion{}, err
	}
	if _, err := toml.Decode(d.Apply(content), &after); err != nil {
		return Deletion{}, fmt.Errorf("the edit would not parse (%v); edit the policy by hand", err)
	}
	t, _ := before[table].(map[string]any)
	arr, _ := t[key].([]any)
	var want []any
	removed := false
	for _, v := range arr {
		if v == value && !removed {
			removed = true
			continue
		}
		want = append(want, v)
	}
	if want == nil {
		want = []any{}
	}
	t[key] = want
	if !reflect.DeepEqual(before, after) {
		return Deletion{}, fmt.Errorf("cannot remove %q from %s.%s safely; edit the policy by hand", value, table, key)
	}
	return d, nil
}

// revoke takes value out of [table].key of the folder's policy file (an
// "Always allow" given earlier) through workspace/applyEdit. Removing a
// rule only narrows: the content stays trusted when it was.
func (s *server) revoke(ctx context.Context, f *folder, table, key, value string) error {
	data, err := os.ReadFile(f.file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist", f.file)
	}
	if err != nil {
		return err
	}
	content := string(data)
	d, err := RemoveArrayValue(content, table, key, value)
	if err != nil {
		return err
	}
	if p := f.Policy(); p != nil && p.Trusted {
		sum := sha256.Sum256([]byte(d.Apply(content)))
		if err := (workspace.TrustStore{Dir: f.dirs.StateDir}).Trust(f.file, hex.EncodeToString(sum[:])); err != nil {
			return fmt.Errorf("trusting the edited policy: %w", err)
		}
	}
	u := protocol.DocumentURI(uri.File(f.file))
	edit := map[string]any{"documentChanges": []any{map[string]any{
		"textDocument": map[string]any{"uri": u, "version": nil},
		"edits": []protocol.TextEdit{{
			Range:   protocol.Range{Start: offsetPosition(content, d.Offset), End: offsetPosition(content, d.Offset+d.Len)},
			NewText: "",
		}},
	}}}
	var res struct {
		Applied       bool   `json:"applied"`
		FailureReason string `json:"failureReason"`
	}
	if err := s.conn.call(context.WithoutCancel(ctx), "workspace/applyEdit", map[string]any{"label": "cordon: revoke " + value, "edit": edit}, &res); err != nil {
		return err
	}
	if !res.Applied {
		return fmt.Errorf("client did not apply the edit: %s", res.FailureReason)
	}
	s.log.Info("rule revoked", "file", f.file, "table", table, "key", key, "value", value)
	return nil
}
