package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
)

// startBackground starts `sleep 30` as a background run that writes its
// pid first, and returns the run's id and the pid.
func startBackground(t *testing.T, c *testClient, e env) (string, int) {
	t.Helper()
	pidFile := e.root + "/pid"
	var res struct {
		RunID    string `json:"runId"`
		ExitCode *int   `json:"exitCode"`
	}
	start := time.Now()
	if err := c.request("sandbox/run", map[string]any{"command": "echo up; sleep 30 & echo $! > " + pidFile + "; wait", "background": true}, &res); err != nil {
		t.Fatal(err)
	}
	if res.RunID == "" || res.ExitCode != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("background answer %+v after %v: want {runId} at once", res, time.Since(start))
	}
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
	return res.RunID, pid
}

// A background run answers {runId} at once, streams its output, is listed
// by sandbox/status as background, and lives until sandbox/stop, which
// answers once it is gone; sandbox/exit tells how it ended.
func TestBackgroundRunStop(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	id, pid := startBackground(t, c, e)
	c.waitNote(5*time.Second, func(n *jsonrpc2.Notification) bool {
		return n.Method() == "sandbox/output" && strings.Contains(string(n.Params()), `"data":"up\n"`) && strings.Contains(string(n.Params()), id)
	})
	// Another request is served meanwhile, and the run is still alive.
	var st status
	if err := c.request("sandbox/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) != 1 || st.Runs[0].RunID != id || !st.Runs[0].Background {
		t.Fatalf("status runs %+v", st.Runs)
	}
	time.Sleep(200 * time.Millisecond)
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("the background run died when its request was answered")
	}
	if err := c.request("sandbox/stop", map[string]any{"runId": id}, nil); err != nil {
		t.Fatal(err)
	}
	if !waitGone(pid, 2*time.Second) {
		t.Fatalf("child %d outlived sandbox/stop", pid)
	}
	n := c.waitNote(5*time.Second, func(n *jsonrpc2.Notification) bool { return n.Method() == "sandbox/exit" })
	var ended struct {
		RunID    string `json:"runId"`
		ExitCode int    `json:"exitCode"`
		Signal   int    `json:"signal"`
	}
	if err := json.Unmarshal(n.Params(), &ended); err != nil || ended.RunID != id || ended.Signal != 9 {
		t.Fatalf("sandbox/exit %s (%v)", n.Params(), err)
	}
	if err := c.request("sandbox/status", nil, &st); err != nil || len(st.Runs) != 0 {
		t.Fatalf("runs after stop %+v (%v)", st.Runs, err)
	}
	if err := c.request("sandbox/stop", map[string]any{"runId": id}, nil); err == nil {
		t.Fatal("stopping a run that ended succeeded")
	}
}

// The server's end (shutdown and exit) ends a background run too.
func TestBackgroundRunEndsWithServer(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	_, pid := startBackground(t, c, e)
	if err := c.request("shutdown", nil, nil); err != nil {
		t.Fatal(err)
	}
	c.notify("exit", nil)
	select {
	case err := <-c.served:
		c.served <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return on exit")
	}
	if !waitGone(pid, 5*time.Second) {
		t.Fatalf("background child %d outlived the server", pid)
	}
}

// A foreground run can be stopped too.
func TestStopForegroundRun(t *testing.T) {
	e := newEnv(t)
	c := startServer(t, e, fakeExec(hostExec), nil)
	c.initialize(e, nil)
	_, ch := c.send("sandbox/run", map[string]any{"command": "sleep 30"})
	var st status
	deadline := time.Now().Add(5 * time.Second)
	for len(st.Runs) == 0 && time.Now().Before(deadline) {
		if err := c.request("sandbox/status", nil, &st); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.Runs) != 1 || st.Runs[0].Background {
		t.Fatalf("runs %+v", st.Runs)
	}
	if err := c.request("sandbox/stop", map[string]any{"runId": st.Runs[0].RunID}, nil); err != nil {
		t.Fatal(err)
	}
	if r := c.wait(ch, 5*time.Second); r == nil {
		t.Fatal("the stopped run's request got no answer")
	}
}
