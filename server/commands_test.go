package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

func statusOf(t *testing.T, c *testClient) map[string]any {
	t.Helper()
	var st map[string]any
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// With no .sandbox.toml there is no file and nothing trusted: the status
// says so instead of naming a path and "trusted".
func TestStatusWithoutPolicyFile(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	st := statusOf(t, c)
	if v, ok := st["policyFile"]; !ok || v != nil {
		t.Errorf("policyFile = %#v (present %v), want null", v, ok)
	}
	if st["trusted"] != false {
		t.Errorf("trusted = %#v, want false", st["trusted"])
	}
	if _, ok := st["lastGood"]; ok {
		t.Errorf("lastGood set without a file: %v", st)
	}
}

// An invalid file on disk: the last good policy is in force, and the status
// says so with the reason.
func TestStatusLastGood(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(t, file, "[network]\ndeny = [\"a.example\"]\n")
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	st := statusOf(t, c)
	if st["policyFile"] != file || st["trusted"] != true || st["lastGood"] != nil {
		t.Fatalf("valid file: %v", st)
	}
	writeFile(t, file, "[network]\ndeny = [\"a.example\"\n")
	deadline := time.Now().Add(5 * time.Second)
	for st["lastGood"] != true {
		if time.Now().After(deadline) {
			t.Fatalf("never reported the last good policy: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
		st = statusOf(t, c)
	}
	if st["error"] == "" || st["policyHash"] == "" {
		t.Errorf("lastGood without its reason or hash: %v", st)
	}
	var ex struct{ Text string }
	if err := c.request("workspace/executeCommand", map[string]any{"command": cmdExplain, "arguments": []any{map[string]any{}}}, &ex); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ex.Text, "last good policy") || !strings.Contains(ex.Text, "a.example") {
		t.Errorf("explain does not say the last good policy is in force:\n%s", ex.Text)
	}
}

// Trust from the editor: the status lists what widens; trusting the hash
// shown trusts it, a stale hash is refused, untrust withdraws it.
func TestTrustCommands(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(t, file, "[network]\nallow = [\"pkg.example:443\"]\n")
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	var st folderStatus
	raw := statusOf(t, c)
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &st)
	if st.Trusted || len(st.Untrusted) != 1 || st.Untrusted[0].Target != "pkg.example:443" || st.Untrusted[0].Line != 2 {
		t.Fatalf("untrusted status: %s", b)
	}
	cmd := func(name string, args map[string]any) error {
		return c.request("workspace/executeCommand", map[string]any{"command": name, "arguments": []any{args}}, nil)
	}
	if err := cmd(cmdTrust, map[string]any{"hash": "0000"}); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("a stale hash was trusted: %v", err)
	}
	if err := cmd(cmdTrust, map[string]any{"root": e.root, "hash": st.PolicyHash}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := (workspace.TrustStore{Dir: e.dirs.StateDir}).Trusted(file, st.PolicyHash); !ok {
		t.Fatal("trust store does not hold the approval")
	}
	if s := statusOf(t, c); s["trusted"] != true || s["untrusted"] != nil {
		t.Fatalf("after trust: %v", s)
	}
	if err := cmd(cmdUntrust, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if s := statusOf(t, c); s["trusted"] != false {
		t.Fatalf("after untrust: %v", s)
	}
	if err := cmd(cmdTrust, map[string]any{"root": "/elsewhere", "hash": st.PolicyHash}); err == nil {
		t.Fatal("a root that is not served was accepted")
	}
}
