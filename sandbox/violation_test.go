package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

func TestViolationJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	v := Violation{RunID: "r1", Command: "npm test", Kind: KindNet, Target: "evil.example:443",
		Rule: workspace.Source{File: "/ws/.sandbox.toml", Line: 7, Col: 3}, Time: at}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"runId":"r1","command":"npm test","kind":"net","target":"evil.example:443","rule":{"file":"/ws/.sandbox.toml","line":7},"time":"2026-11-22T12:00:00Z"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Violation
	if err := json.Unmarshal(b, &back); err != nil || back.Rule.Line != 7 || back.Target != v.Target {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	v.Rule = workspace.Source{}
	b, _ = json.Marshal(v)
	if strings.Contains(string(b), `"rule"`) {
		t.Fatalf("a default rule is written: %s", b)
	}
}
