package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/cordon-dev/cordon/server/runner"
)

func code(err error) jsonrpc2.Code {
	var e *jsonrpc2.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestUnknownMethod(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	err := c.request("textDocument/definition", map[string]any{}, nil)
	if code(err) != jsonrpc2.MethodNotFound {
		t.Fatalf("definition: got %v, want MethodNotFound", err)
	}
	c.notify("$/someUnknownNotification", map[string]any{"x": 1})
	c.notify("textDocument/didOpen", "not even an object")
	var st status
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatalf("server died after unknown notifications: %v", err)
	}
	if st.Root != e.root {
		t.Errorf("status root = %q, want %q", st.Root, e.root)
	}
}

func TestBeforeInitialize(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	if err := c.request("sandbox/status", nil, nil); code(err) != jsonrpc2.ServerNotInitialized {
		t.Fatalf("status before initialize: %v", err)
	}
}

func TestMalformedInput(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	inputs := []string{
		string(frame([]byte(`{"jsonrpc":"2.0","id":1,"method":`))), // truncated JSON
		string(frame([]byte(`not json at all`))),
		"Content-Length: banana\r\n\r\n{}",
		"Content-Length: -5\r\n\r\n",
		"Content-Length: 99999999999\r\n\r\n",
		"this is not a header\r\n\r\n",
		string(frame([]byte(`{"jsonrpc":"2.0","id":{"x":1},"method":"sandbox/status"}`))),
	}
	for i, in := range inputs {
		before := len(c.nullAnswers())
		c.writeRaw([]byte(in))
		deadline := time.Now().Add(5 * time.Second)
		for len(c.nullAnswers()) == before {
			if time.Now().After(deadline) {
				t.Fatalf("input %d %q: no error answer", i, in)
			}
			time.Sleep(5 * time.Millisecond)
		}
		got := c.nullAnswers()[before]
		if want := []jsonrpc2.Code{jsonrpc2.ParseError, jsonrpc2.InvalidRequest}; code(got.Err()) != want[0] && code(got.Err()) != want[1] {
			t.Errorf("input %d: answered %v", i, got.Err())
		}
		// The server lives on and answers a normal request.
		var st status
		if err := c.request("sandbox/status", nil, &st); err != nil {
			t.Fatalf("after input %d %q: status failed: %v", i, in, err)
		}
	}
}

func TestBurst(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	const n = 1000
	chans := make([]chan *jsonrpc2.Response, n)
	for i := range chans {
		method := "sandbox/status"
		if i%10 == 9 {
			method = "no/such/method"
		}
		_, chans[i] = c.send(method, nil)
	}
	for i, ch := range chans {
		r := c.wait(ch, 30*time.Second)
		if i%10 == 9 {
			if code(r.Err()) != jsonrpc2.MethodNotFound {
				t.Fatalf("request %d: %v", i, r.Err())
			}
		} else if r.Err() != nil {
			t.Fatalf("request %d: %v", i, r.Err())
		}
	}
}

func TestLongRunDoesNotDelayStatus(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	_, runCh := c.send("sandbox/run", map[string]any{"command": []string{"sleep", "3"}})
	// Give the run time to start, then time a status request behind it.
	c.waitNote(5*time.Second, func(n *jsonrpc2.Notification) bool {
		return n.Method() == "$/progress" || n.Method() == "sandbox/output" || true
	})
	start := time.Now()
	var st status
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("status took %v behind a 3 s run", d)
	}
	if st.Backend != "fake" || st.Layers != "fake + Landlock ABI 7" {
		t.Errorf("status names backend %q, layers %q", st.Backend, st.Layers)
	}
	select {
	case r := <-runCh:
		t.Fatalf("the run answered before it could have finished: %v", r)
	default:
	}
	r := c.wait(runCh, 10*time.Second)
	var res runResult
	if r.Err() != nil || json.Unmarshal(r.Result(), &res) != nil || res.ExitCode != 0 {
		t.Fatalf("run: %v %s", r.Err(), r.Result())
	}
}

func TestCancelRun(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{}, 1)
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		started <- struct{}{}
		return hostExec(ctx, req)
	})
	c := startServer(t, e, exe, nil)
	c.initialize(e, nil)
	// A process tree: the shell and a grandchild sleeping; both must die.
	pidFile := e.root + "/pid"
	id, ch := c.send("sandbox/run", map[string]any{"command": "sleep 30 & echo $! > " + pidFile + "; wait"})
	recv(t, started, "start of the run")
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := readFileTrim(pidFile); err == nil && b != "" {
			fmt.Sscan(b, &pid)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started its child")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The id as a JSON number: the stock chain compared int32 with float64.
	c.writeRaw(frame([]byte(fmt.Sprintf(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":%d}}`, id))))
	r := c.wait(ch, 5*time.Second)
	if code(r.Err()) != requestCancelled {
		t.Fatalf("cancelled run answered %v %s", r.Err(), r.Result())
	}
	if !waitGone(pid, 5*time.Second) {
		t.Fatalf("grandchild %d outlived the cancelled run", pid)
	}
}

func TestCwdOutsideWorkspace(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	for _, cwd := range []string{"/", "/tmp", e.root + "/..", "../home"} {
		err := c.request("sandbox/run", map[string]any{"command": "true", "cwd": cwd}, nil)
		if code(err) != jsonrpc2.InvalidParams {
			t.Errorf("cwd %q: %v, want InvalidParams", cwd, err)
		}
	}
	// A symlink inside the workspace pointing out of it is outside too.
	if err := symlink("/", e.root+"/escape"); err != nil {
		t.Fatal(err)
	}
	if err := c.request("sandbox/run", map[string]any{"command": "true", "cwd": "escape"}, nil); code(err) != jsonrpc2.InvalidParams {
		t.Errorf("cwd through a symlink out: %v", err)
	}
}

func TestRunResultAndEnv(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var got []string
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		mu.Lock()
		got = req.Env
		mu.Unlock()
		return hostExec(ctx, req)
	})
	c := startServer(t, e, exe, func(o *Options) { o.Environ = []string{"PATH=/usr/bin:/bin", "A=1"} })
	c.initialize(e, nil)
	var res runResult
	if err := c.request("sandbox/run", map[string]any{"command": "echo $A $B; exit 3", "env": map[string]string{"A": "2", "B": "x"}}, &res); err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || !strings.HasPrefix(res.RunID, "run-") || res.Violations == nil {
		t.Errorf("result %+v", res)
	}
	n := c.waitNote(5*time.Second, func(n *jsonrpc2.Notification) bool {
		return n.Method() == "sandbox/output" && strings.Contains(string(n.Params()), `2 x`)
	})
	if !strings.Contains(string(n.Params()), `"stream":"stdout"`) {
		t.Errorf("output %s", n.Params())
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, " ") != "PATH=/usr/bin:/bin A=2 B=x" {
		t.Errorf("env %q", got)
	}
	// Progress begin and end titled with the command.
	c.waitNote(time.Second, func(n *jsonrpc2.Notification) bool {
		return n.Method() == "$/progress" && strings.Contains(string(n.Params()), `"title":"/bin/sh -c`)
	})
	c.waitNote(time.Second, func(n *jsonrpc2.Notification) bool {
		return n.Method() == "$/progress" && strings.Contains(string(n.Params()), `"kind":"end"`)
	})
}

func TestShutdownExit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shutdown bool
		want     int
	}{{"after shutdown", true, 0}, {"without shutdown", false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := startServer(t, e, fakeExec(hostExec), nil)
			c.initialize(e, nil)
			if tc.shutdown {
				if err := c.request("shutdown", nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			c.notify("exit", nil)
			select {
			case err := <-c.served:
				c.served <- err // for cleanup
				if got := ExitCode(err); got != tc.want {
					t.Fatalf("exit code %d (%v), want %d", got, err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return on exit")
			}
		})
	}
}

func TestEOFKillsRuns(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	pidFile := e.root + "/pid"
	c.send("sandbox/run", map[string]any{"command": "sleep 30 & echo $! > " + pidFile + "; wait"})
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for pid == 0 {
		if b, err := readFileTrim(pidFile); err == nil && b != "" {
			fmt.Sscan(b, &pid)
		} else if time.Now().After(deadline) {
			t.Fatal("no child")
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	c.conn.Close() // the editor vanishes
	select {
	case err := <-c.served:
		c.served <- err
		if ExitCode(err) != 1 {
			t.Errorf("EOF without shutdown: exit %d", ExitCode(err))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return at EOF")
	}
	if !waitGone(pid, 5*time.Second) {
		t.Fatalf("child %d outlived the editor", pid)
	}
}
