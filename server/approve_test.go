package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

// askingExec asks its approver about one host, as the proxy does for an
// unknown host, and reports the answer.
func askingExec(answers chan<- proxy.Answer) fakeExec {
	return func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		a, err := req.Approver.Approve(actx, proxy.Question{RunID: req.RunID, Command: req.Label, Host: "pkg.example", Port: 443})
		if err != nil {
			a = proxy.Deny
		}
		answers <- a
		return &runner.Outcome{}, nil
	}
}

func TestApprovals(t *testing.T) {
	tests := []struct {
		name   string
		optIn  bool
		answer func(method string, params json.RawMessage) (any, error)
		want   proxy.Answer
	}{
		{"opt-in allow once", true, func(m string, _ json.RawMessage) (any, error) {
			if m != "sandbox/approve" {
				return nil, nil
			}
			return map[string]string{"decision": "allow-once"}, nil
		}, proxy.AllowOnce},
		{"opt-in deny", true, func(m string, _ json.RawMessage) (any, error) {
			return map[string]string{"decision": "deny"}, nil
		}, proxy.Deny},
		{"opt-in nonsense is deny", true, func(m string, _ json.RawMessage) (any, error) {
			return map[string]string{"decision": "yes please"}, nil
		}, proxy.Deny},
		{"opt-in error is deny", true, func(m string, _ json.RawMessage) (any, error) {
			return nil, os.ErrPermission
		}, proxy.Deny},
		{"opt-in no answer in time is deny", true, func(m string, _ json.RawMessage) (any, error) {
			if m == "window/workDoneProgress/create" {
				return nil, nil
			}
			return errNoAnswer, nil
		}, proxy.Deny},
		{"fallback allow once", false, func(m string, _ json.RawMessage) (any, error) {
			if m != "window/showMessageRequest" {
				return nil, nil
			}
			return map[string]string{"title": "Allow once"}, nil
		}, proxy.AllowOnce},
		{"fallback dismissed is deny", false, func(m string, _ json.RawMessage) (any, error) {
			return nil, nil
		}, proxy.Deny},
		{"fallback no answer in time is deny", false, func(m string, _ json.RawMessage) (any, error) {
			if m == "window/workDoneProgress/create" {
				return nil, nil
			}
			return errNoAnswer, nil
		}, proxy.Deny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			answers := make(chan proxy.Answer, 1)
			c := startServer(t, e, askingExec(answers), func(o *Options) { o.ApprovalTimeout = 300 * time.Millisecond })
			asked := make(chan string, 1)
			c.onCall = func(m string, p json.RawMessage) (any, error) {
				if m == "sandbox/approve" || m == "window/showMessageRequest" {
					asked <- m + " " + string(p)
				}
				return tc.answer(m, p)
			}
			c.initialize(e, map[string]any{"approvals": tc.optIn})
			var res runResult
			if err := c.request("sandbox/run", map[string]any{"command": []string{"curl", "https://pkg.example"}}, &res); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, answers, "the approval answer"); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			q := recv(t, asked, "the approval question")
			if !strings.Contains(q, "pkg.example:443") || !strings.Contains(q, "curl https://pkg.example") {
				t.Errorf("question lacks host or command: %s", q)
			}
			if tc.optIn && !strings.Contains(q, `"kind":"network"`) {
				t.Errorf("question %s", q)
			}
			if !tc.optIn && !strings.Contains(q, `"Always allow"`) {
				t.Errorf("fallback offers no Always allow: %s", q)
			}
		})
	}
}

// "Always allow" edits .sandbox.toml through workspace/applyEdit with a
// minimal edit, creating the file when missing; the result stays trusted.
func TestAlwaysAllow(t *testing.T) {
	for _, existing := range []string{"", "# team policy\n[network]\nallow = [\"a.example\"] # keep me\n"} {
		name := "missing file"
		if existing != "" {
			name = "existing file"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			file := filepath.Join(e.root, ".sandbox.toml")
			if existing != "" {
				writeFile(t, file, existing)
				// The user trusted this widening content already.
				sum := sha256.Sum256([]byte(existing))
				if err := (workspace.TrustStore{Dir: e.dirs.StateDir}).Trust(file, hex.EncodeToString(sum[:])); err != nil {
					t.Fatal(err)
				}
			}
			answers := make(chan proxy.Answer, 1)
			c := startServer(t, e, askingExec(answers), nil)
			edits := make(chan json.RawMessage, 1)
			c.onCall = func(m string, p json.RawMessage) (any, error) {
				switch m {
				case "sandbox/approve":
					return map[string]string{"decision": "allow-always"}, nil
				case "workspace/applyEdit":
					edits <- p
					if err := applyTestEdit(p, file); err != nil {
						return map[string]any{"applied": false, "failureReason": err.Error()}, nil
					}
					return map[string]any{"applied": true}, nil
				}
				return nil, nil
			}
			c.initialize(e, map[string]any{"approvals": true})
			if err := c.request("sandbox/run", map[string]any{"command": "true"}, nil); err != nil {
				t.Fatal(err)
			}
			if a := recv(t, answers, "the approval answer"); a != proxy.AllowAlways {
				t.Fatalf("answer %q", a)
			}
			p := recv(t, edits, "the policy edit")
			if existing == "" && !strings.Contains(string(p), `"kind":"create"`) {
				t.Errorf("missing file not created: %s", p)
			}
			data, _ := os.ReadFile(file)
			if !strings.Contains(string(data), `"pkg.example:443"`) || !strings.HasPrefix(string(data), existing) && existing != "" && !strings.Contains(string(data), "# keep me") {
				t.Errorf("file after the edit:\n%s", data)
			}
			if existing != "" && !strings.Contains(string(data), "# team policy") {
				t.Errorf("comments lost:\n%s", data)
			}
			// The watcher reloads it and it is trusted: the host is allowed.
			deadline := time.Now().Add(5 * time.Second)
			for {
				var st status
				if err := c.request("sandbox/status", nil, &st); err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				if st.PolicyHash == hex.EncodeToString(sum[:]) {
					if !st.Trusted {
						t.Fatal("our own Always allow edit left the file untrusted")
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("edited policy never loaded: %+v", st)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// applyTestEdit applies a workspace edit of the shape policyEdit makes,
// as a client would.
func applyTestEdit(params json.RawMessage, file string) error {
	var p struct {
		Edit struct {
			DocumentChanges []struct {
				Kind  string `json:"kind"`
				URI   string `json:"uri"`
				Edits []struct {
					Range struct {
						Start struct{ Line, Character int } `json:"start"`
					} `json:"range"`
					NewText string `json:"newText"`
				} `json:"edits"`
			} `json:"documentChanges"`
		} `json:"edit"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return err
	}
	for _, ch := range p.Edit.DocumentChanges {
		if ch.Kind == "create" {
			if _, err := os.Stat(file); os.IsNotExist(err) {
				if err := os.WriteFile(file, nil, 0o644); err != nil {
					return err
				}
			}
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		content := string(data)
		for _, ed := range ch.Edits {
			lines := strings.SplitAfter(content, "\n")
			off := 0
			for _, l := range lines[:ed.Range.Start.Line] {
				off += len(l)
			}
			off += ed.Range.Start.Character // ASCII in tests
			content = content[:off] + ed.NewText + content[off:]
		}
		writeFile(nil, file, content)
	}
	return nil
}

// "deny-always" (and the fallback's "Always deny") writes a [network] deny
// entry through workspace/applyEdit; a deny of either kind is not asked
// again in the session, and the refusal says when the user gave it.
func TestDenyAlways(t *testing.T) {
	for _, tc := range []struct {
		name  string
		optIn bool
		reply any
		edit  bool
	}{
		{"opt-in deny-always", true, map[string]string{"decision": "deny-always"}, true},
		{"opt-in deny", true, map[string]string{"decision": "deny"}, false},
		{"fallback Always deny", false, map[string]string{"title": "Always deny"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			file := filepath.Join(e.root, ".sandbox.toml")
			answers := make(chan proxy.Answer, 4)
			var asked, edited atomic.Int32
			c := startServer(t, e, timedAskingExec(answers), nil)
			c.onCall = func(m string, p json.RawMessage) (any, error) {
				switch m {
				case "sandbox/approve", "window/showMessageRequest":
					asked.Add(1)
					if !tc.optIn && !strings.Contains(string(p), `"Always deny"`) {
						t.Errorf("fallback offers no Always deny: %s", p)
					}
					return tc.reply, nil
				case "workspace/applyEdit":
					edited.Add(1)
					if !strings.Contains(string(p), `"label":"cordon: deny pkg.example:443"`) {
						t.Errorf("edit label: %s", p)
					}
					if err := applyTestEdit(p, file); err != nil {
						return map[string]any{"applied": false, "failureReason": err.Error()}, nil
					}
					return map[string]any{"applied": true}, nil
				}
				return nil, nil
			}
			c.initialize(e, map[string]any{"approvals": tc.optIn})
			for i := 0; i < 2; i++ {
				if err := c.request("sandbox/run", map[string]any{"command": "true"}, nil); err != nil {
					t.Fatal(err)
				}
				if a := recv(t, answers, "the run's answer"); a != proxy.Deny && a != proxy.DenyAlways {
					t.Fatalf("run %d: answer %q", i, a)
				}
			}
			if asked.Load() != 1 {
				t.Errorf("asked %d times in one session, want once", asked.Load())
			}
			data, _ := os.ReadFile(file)
			if tc.edit {
				if edited.Load() != 1 || !strings.Contains(string(data), "[network]") || !strings.Contains(string(data), `deny = ["pkg.example:443"]`) {
					t.Errorf("%d edits; file after them:\n%s", edited.Load(), data)
				}
				p, err := workspace.Load(workspace.LoadOptions{Root: e.root, Dirs: e.dirs})
				if err != nil {
					t.Fatal(err)
				}
				if v, _, _ := proxy.Match(p, "pkg.example", 443); v != proxy.Denied {
					t.Errorf("after the edit pkg.example:443 is %v, want denied", v)
				}
			} else if edited.Load() != 0 || len(data) != 0 {
				t.Errorf("a plain deny edited the policy (%d):\n%s", edited.Load(), data)
			}
		})
	}
}

// A prompt nobody answered is no refusal to remember: the next run asks.
func TestUnansweredIsAskedAgain(t *testing.T) {
	e := newEnv(t)
	answers := make(chan proxy.Answer, 4)
	var asked atomic.Int32
	c := startServer(t, e, timedAskingExec(answers), func(o *Options) { o.ApprovalTimeout = 200 * time.Millisecond })
	c.onCall = func(m string, p json.RawMessage) (any, error) {
		if m == "sandbox/approve" {
			asked.Add(1)
			return errNoAnswer, nil
		}
		return nil, nil
	}
	c.initialize(e, map[string]any{"approvals": true})
	for i := 0; i < 2; i++ {
		if err := c.request("sandbox/run", map[string]any{"command": "true"}, nil); err != nil {
			t.Fatal(err)
		}
		recv(t, answers, "the run's answer")
	}
	if asked.Load() != 2 {
		t.Errorf("asked %d times, want 2: an unanswered prompt must not stick", asked.Load())
	}
}

// timedAskingExec is askingExec through the TimedApprover the proxy uses.
func timedAskingExec(answers chan<- proxy.Answer) fakeExec {
	return func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ta, ok := req.Approver.(proxy.TimedApprover)
		if !ok {
			return nil, errors.New("the server's approver does not say when it answered")
		}
		a, at, err := ta.ApproveAt(actx, proxy.Question{RunID: req.RunID, Command: req.Label, Host: "pkg.example", Port: 443})
		if err != nil || at.IsZero() {
			a = "error"
		}
		answers <- a
		return &runner.Outcome{}, nil
	}
}
