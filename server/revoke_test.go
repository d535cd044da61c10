package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

func TestRemoveArrayValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"[network]\nallow = [\"a.test\", \"b.test\"] # c\n", "[network]\nallow = [\"a.test\"] # c\n"},
		{"[network]\nallow = [\"b.test\", \"a.test\"]\n", "[network]\nallow = [\"a.test\"]\n"},
		{"[network]\nallow = [\n  \"x\",\n  \"b.test\"\n]\n", "[network]\nallow = [\n  \"x\"\n]\n"},
		{"[network]\nallow = [\n  \"x\",\n  \"b.test\", # mine\n  \"y\",\n]\n", "[network]\nallow = [\n  \"x\",\n  # mine\n  \"y\",\n]\n"},
		{"[network]\nallow = ['b.test']\n", "[network]\nallow = []\n"},
		{"# top\n[network]\ndeny = [\"b.test\"]\nallow = [\"a\" , \"b.test\"]\n", "# top\n[network]\ndeny = [\"b.test\"]\nallow = [\"a\"]\n"},
	} {
		d, err := RemoveArrayValue(c.in, "network", "allow", "b.test")
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := d.Apply(c.in); got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{
		"[network]\nallow = [\"a\"]\n",         // not there
		"[network]\nallow = \"b.test\"\n",      // not an array
		"[filesystem]\nallow = [\"b.test\"]\n", // another table
	} {
		if d, err := RemoveArrayValue(bad, "network", "allow", "b.test"); err == nil {
			t.Errorf("%q: removed %+v", bad, d)
		}
	}
}

// Revoke through the protocol: the host leaves [network] allow by an edit
// the client applies, and the narrowed content stays trusted.
func TestRevokeCommand(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(t, file, "[network]\nallow = [\"keep.test\", \"gone.test:443\"]\n")
	c := startServer(t, e, fakeExec(hostExec), nil)
	edits := make(chan json.RawMessage, 1)
	c.onCall = func(method string, params json.RawMessage) (any, error) {
		if method == "workspace/applyEdit" {
			edits <- params
			// Apply it as an editor would: the one deletion.
			var p struct {
				Edit struct {
					DocumentChanges []struct {
						Edits []struct {
							Range struct{ Start, End struct{ Line, Character int } } `json:"range"`
						} `json:"edits"`
					} `json:"documentChanges"`
				} `json:"edit"`
			}
			_ = json.Unmarshal(params, &p)
			r := p.Edit.DocumentChanges[0].Edits[0].Range
			b, _ := os.ReadFile(file)
			lines := strings.SplitAfter(string(b), "\n")
			l := lines[r.Start.Line]
			lines[r.Start.Line] = l[:r.Start.Character] + l[r.End.Character:]
			writeFile(t, file, strings.Join(lines, ""))
			return map[string]any{"applied": true}, nil
		}
		return nil, nil
	}
	c.initialize(e, nil)
	var st folderStatus
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if err := (workspace.TrustStore{Dir: e.dirs.StateDir}).Trust(file, st.PolicyHash); err != nil {
		t.Fatal(err)
	}
	c.request("workspace/executeCommand", map[string]any{"command": cmdReload}, nil)
	if err := c.request("workspace/executeCommand", map[string]any{"command": cmdRevoke, "arguments": []any{map[string]any{"host": "gone.test:443"}}}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-edits:
	case <-time.After(5 * time.Second):
		t.Fatal("no applyEdit")
	}
	if b, _ := os.ReadFile(file); string(b) != "[network]\nallow = [\"keep.test\"]\n" {
		t.Fatalf("after revoke: %q", b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var st map[string]any
		c.request("sandbox/status", nil, &st)
		if st["trusted"] == true && !strings.Contains(st["policyHash"].(string), "x") {
			if h := st["policyHash"].(string); h != "" {
				b, _ := os.ReadFile(file)
				p, _ := workspace.Parse(file, b, e.dirs, e.root)
				if p != nil && p.Hash == h {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the narrowed policy is not trusted: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.request("workspace/executeCommand", map[string]any{"command": cmdRevoke, "arguments": []any{map[string]any{"host": "never.test"}}}, nil); err == nil {
		t.Fatal("revoking a host not in the file succeeded")
	}
}

// FuzzRemoveArrayValue: any deletion we return is in range and verified:
// the document parses and lost exactly that element.
func FuzzRemoveArrayValue(f *testing.F) {
	f.Add("[network]\nallow = [\"a\", \"b\"] # c\n", "b")
	f.Add("[network]\nallow = [\n 'a', # ]\n \"b\",\n]\n", "a")
	f.Add("[network]\nallow = [\"a\" , \"b\"]\n", "b")
	f.Fuzz(func(t *testing.T, in, value string) {
		d, err := RemoveArrayValue(in, "network", "allow", value)
		if err != nil {
			return
		}
		if d.Offset < 0 || d.Len <= 0 || d.Offset+d.Len > len(in) {
			t.Fatalf("deletion %+v out of range", d)
		}
		if _, err := verifiedDeletion(in, d, "network", "allow", value); err != nil {
			t.Fatalf("returned an unverified deletion: %v", err)
		}
	})
}
