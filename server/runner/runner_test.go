package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// scriptBackend "runs" a command by calling do with the run's proxy
// socket, then reports the filesystem violations it was given.
type scriptBackend struct {
	do func(sock string)
	fs []sandbox.Violation
}

func (b *scriptBackend) Name() string                    { return "script" }
func (b *scriptBackend) Check(ctx context.Context) error { return nil }
func (b *scriptBackend) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Process, error) {
	b.do(spec.Network.ProxySocket)
	return &doneProc{res: &sandbox.Result{Violations: b.fs}}, nil
}

type doneProc struct{ res *sandbox.Result }

func (p *doneProc) Wait() (*sandbox.Result, error) { return p.res, nil }
func (p *doneProc) Signal(os.Signal) error         { return nil }
func (p *doneProc) Kill() error                    { return nil }

func loadPolicy(t *testing.T, src string) *workspace.Policy {
	t.Helper()
	root, home := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(root, ".sandbox.toml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := workspace.Load(workspace.LoadOptions{Root: root, Dirs: workspace.Dirs{Home: home, ConfigDir: filepath.Join(home, "c"), StateDir: filepath.Join(home, "s")}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// get sends one plain-HTTP proxy request through sock and returns the status.
func get(t *testing.T, sock, host string) int {
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestViolationsCollapse: the same refusal five times is one violation
// with count 5, told live once; different ones stay apart; a user's deny
// carries its cause instead of "default".
func TestViolationsCollapse(t *testing.T) {
	pol := loadPolicy(t, "[network]\ndeny = [\"bad.test\"]\nunknown = \"ask\"\n")
	at := time.Date(2026, 12, 1, 14, 2, 0, 0, time.Local)
	b := &scriptBackend{
		do: func(sock string) {
			for i := 0; i < 5; i++ {
				if code := get(t, sock, "bad.test"); code != 403 {
					t.Errorf("bad.test: %d", code)
				}
			}
			get(t, sock, "bad.test:8080")
			get(t, sock, "asked.test")
			get(t, sock, "asked.test")
		},
		fs: []sandbox.Violation{{Kind: sandbox.KindWrite, Target: "/etc/x", Count: 3}},
	}
	r := &Runner{Backend: b}
	var mu sync.Mutex
	var live []sandbox.Violation
	out, err := r.Run(context.Background(), Request{
		RunID: "r1", Policy: func() *workspace.Policy { return pol }, Argv: []string{"x"},
		Approver: approveAt(func(q proxy.Question) (proxy.Answer, time.Time) { return proxy.Deny, at }),
		OnViolation: func(v sandbox.Violation) {
			mu.Lock()
			live = append(live, v)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// DESIGN's line stays exact (scripts parse it); the count is the
	// violation's, in its JSON and the editor's diagnostic.
	var lines []string
	for _, v := range out.Violations {
		lines = append(lines, fmt.Sprintf("%s ×%d", v, max(v.Count, 1)))
	}
	got := strings.Join(lines, "\n")
	want := strings.Join([]string{
		"cordon: blocked net bad.test:80 (" + pol.File + ":2) ×5",
		"cordon: blocked net bad.test:8080 (" + pol.File + ":2) ×1",
		"cordon: blocked net asked.test:80 (denied by you at 14:02) ×2",
		"cordon: blocked write /etc/x (default) ×3",
	}, "\n")
	if got != want {
		t.Fatalf("report:\n%s\nwant:\n%s", got, want)
	}
	if len(live) != 4 {
		t.Fatalf("told live of %d violations, want 4 (each once)", len(live))
	}
	raw, _ := json.Marshal(out.Violations[2])
	if !strings.Contains(string(raw), `"reason":"denied by you at 14:02"`) || !strings.Contains(string(raw), `"count":2`) {
		t.Fatalf("JSON %s lacks reason or count", raw)
	}
	raw, _ = json.Marshal(out.Violations[1])
	if strings.Contains(string(raw), `"count"`) || strings.Contains(string(raw), `"reason"`) {
		t.Fatalf("JSON of a single rule refusal %s carries count or reason", raw)
	}
}

type approveAt func(proxy.Question) (proxy.Answer, time.Time)

func (f approveAt) Approve(ctx context.Context, q proxy.Question) (proxy.Answer, error) {
	a, _ := f(q)
	return a, nil
}

func (f approveAt) ApproveAt(ctx context.Context, q proxy.Question) (proxy.Answer, time.Time, error) {
	a, at := f(q)
	return a, at, nil
}
