package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

// writeFile writes then renames, as editors save; t may be nil off the
// test goroutine, where errors panic.
func writeFile(t testing.TB, path, content string) {
	tmp := path + ".tmp~"
	err := os.WriteFile(tmp, []byte(content), 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil && t != nil {
		t.Fatal(err)
	} else if err != nil {
		panic(err)
	}
}

func TestPolicyInvalidAndBack(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	good := "# narrow\n[network]\ndeny = [\"evil.example\"]\n"
	writeFile(t, file, good)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	var st status
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	goodHash := st.PolicyHash
	if goodHash == "" || !st.Trusted {
		t.Fatalf("status %+v", st)
	}

	// An unknown key on line 4, column 1.
	c.mark()
	writeFile(t, file, good+"\n[filesytem]\nallow_write = [\"/\"]\n")
	d := c.waitDiags(file, 5*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) > 0 })
	got := d.Diagnostics[0]
	if got.Code != "policy-error" || got.Source != "cordon" || got.Severity != 1 {
		t.Errorf("diagnostic %+v", got)
	}
	if got.Range.Start.Line != 4 {
		t.Errorf("error at line %d (0-based), want 4: %s", got.Range.Start.Line, got.Message)
	}
	// The last good policy stays: fail closed, never open.
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.PolicyHash != goodHash || st.Error == "" {
		t.Errorf("after an invalid edit: hash %s error %q; want the last good %s", st.PolicyHash, st.Error, goodHash)
	}

	// Fixed: the diagnostics clear, the new policy applies.
	c.mark()
	writeFile(t, file, good+"[filesystem]\ndeny_write = [\"*.pem\"]\n")
	c.waitDiags(file, 5*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) == 0 })
	st = status{}
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.PolicyHash == goodHash || st.Error != "" {
		t.Errorf("fixed file not applied: %+v", st)
	}
}

func TestPolicyWarning(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	// A risky rule: every host allowed. Narrowing-only files are trusted,
	// but this one widens, so we also get a trust question (unanswered).
	writeFile(t, file, "[filesystem]\n# everything\nallow_write = [\"~\"]\n")
	d := c.waitDiags(file, 5*time.Second, func(p pubDiags) bool { return len(p.Diagnostics) > 0 })
	for _, g := range d.Diagnostics {
		if g.Code != "policy-warning" || g.Severity != 2 {
			t.Errorf("diagnostic %+v", g)
		}
	}
}

// A reload swaps the snapshot the run's getter returns, also for a run
// already in flight.
func TestReloadAppliesToRunInFlight(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(t, file, "[network]\ndeny = [\"a.example\"]\n")
	getter := make(chan func() *workspace.Policy, 1)
	release := make(chan struct{})
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		getter <- req.Policy
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &runner.Outcome{}, nil
	})
	c := startServer(t, e, exe, nil)
	c.initialize(e, nil)
	_, ch := c.send("sandbox/run", map[string]any{"command": "true"})
	get := recv(t, getter, "the run's policy")
	if !hasDeny(get(), "a.example") {
		t.Fatal("initial policy not seen")
	}
	writeFile(t, file, "[network]\ndeny = [\"b.example\"]\n")
	deadline := time.Now().Add(5 * time.Second)
	for !hasDeny(get(), "b.example") {
		if time.Now().After(deadline) {
			t.Fatal("run in flight still sees the old policy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	c.wait(ch, 5*time.Second)
}

func hasDeny(p *workspace.Policy, host string) bool {
	for _, r := range p.Network.Deny {
		if r.Host == host {
			return true
		}
	}
	return false
}

// An untrusted widening asks the user at the next run, never while the
// file is loaded (the user may be typing); a yes goes to the trust store
// and the widening applies.
func TestTrustPrompt(t *testing.T) {
	for _, optIn := range []bool{true, false} {
		name := "showMessageRequest"
		if optIn {
			name = "sandbox/approve"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			file := filepath.Join(e.root, ".sandbox.toml")
			writeFile(t, file, "[network]\nallow = [\"pkg.example:443\"]\n")
			c := startServer(t, e, fakeExec(hostExec), nil)
			asked := make(chan string, 4)
			c.onCall = func(method string, params json.RawMessage) (any, error) {
				switch method {
				case "sandbox/approve":
					asked <- string(params)
					return map[string]string{"decision": "allow-once"}, nil
				case "window/showMessageRequest":
					asked <- string(params)
					return map[string]string{"title": "Allow once"}, nil
				}
				return nil, nil
			}
			c.initialize(e, map[string]any{"approvals": optIn})
			select {
			case q := <-asked:
				t.Fatalf("asked on load, before any run: %s", q)
			case <-time.After(300 * time.Millisecond):
			}
			// Sent, not awaited: its answer comes only after the question
			// is answered; it is awaited last, before the server stops.
			_, ran := c.send("sandbox/run", map[string]any{"command": []string{"true"}})
			var q string
			select {
			case q = <-asked:
			case <-time.After(5 * time.Second):
				t.Fatal("no trust question at the run")
			}
			if !strings.Contains(q, "pkg.example:443") || (optIn && !strings.Contains(q, `"kind":"policy"`)) {
				t.Errorf("question does not say what widens: %s", q)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				var st status
				if err := c.request("sandbox/status", nil, &st); err != nil {
					t.Fatal(err)
				}
				if st.Trusted {
					ok, err := workspace.TrustStore{Dir: e.dirs.StateDir}.Trusted(file, st.PolicyHash)
					if err != nil || !ok {
						t.Fatalf("trust store does not hold the approval: %v", err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("policy never trusted")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if r := c.wait(ran, 20*time.Second); r.Err() != nil {
				t.Fatalf("the run after the approval: %v", r.Err())
			}
		})
	}
}

func TestTrustDenied(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(t, file, "[network]\nallow = [\"pkg.example:443\"]\n")
	c := startServer(t, e, fakeExec(hostExec), nil)
	asked := make(chan struct{}, 4)
	c.onCall = func(method string, params json.RawMessage) (any, error) {
		if method == "window/showMessageRequest" {
			asked <- struct{}{}
			return nil, nil // dismissed = deny
		}
		return nil, nil
	}
	c.initialize(e, nil)
	_, ran := c.send("sandbox/run", map[string]any{"command": []string{"true"}})
	recv(t, asked, "the trust prompt")
	time.Sleep(50 * time.Millisecond)
	var st status
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Trusted {
		t.Fatal("a dismissed trust prompt trusted the file")
	}
	if ok, _ := (workspace.TrustStore{Dir: e.dirs.StateDir}).Trusted(file, st.PolicyHash); ok {
		t.Fatal("trust store written on deny")
	}
	// The run still ends (without the widening) before the server stops.
	c.wait(ran, 20*time.Second)
}
