package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

// testClient is a minimal LSP client over net.Pipe, speaking raw frames
// so tests can also send garbage.
type testClient struct {
	t    testing.TB
	conn io.ReadWriteCloser
	wmu  sync.Mutex

	mu      sync.Mutex
	seq     int
	waiting map[string]chan *jsonrpc2.Response
	nulls   []*jsonrpc2.Response // answers with a null id
	notes   []*jsonrpc2.Notification
	changed chan struct{}
	cursor  int // waitNote looks at notifications from here on

	// onCall answers the server's requests; nil answers null.
	onCall func(method string, params json.RawMessage) (any, error)

	served chan error

	// onOutput, when set, takes sandbox/output instead of the list.
	onOutput func(params json.RawMessage)
}

type fakeExec func(ctx context.Context, req runner.Request) (*runner.Outcome, error)

func (f fakeExec) Run(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
	return f(ctx, req)
}

// hostExec runs the command on the host in its own process group and kills
// the whole group on cancel: enough to test the server's plumbing; the
// sandbox itself is tested in sandbox/ and end to end in server/e2e.
func hostExec(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
	cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = req.Dir, req.Env, req.Stdout, req.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", runner.ErrSetup, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	out := &runner.Outcome{}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			out.Signal = int(ws.Signal())
			out.ExitCode = 128 + out.Signal
		} else {
			out.ExitCode = ws.ExitStatus()
		}
	} else if err != nil {
		return nil, err
	}
	return out, nil
}

type env struct {
	root string
	dirs workspace.Dirs
}

func newEnv(t testing.TB) env {
	t.Helper()
	base := t.TempDir()
	if real, err := filepath.EvalSymlinks(base); err == nil {
		base = real
	}
	e := env{
		root: filepath.Join(base, "ws"),
		dirs: workspace.Dirs{Home: filepath.Join(base, "home"), ConfigDir: filepath.Join(base, "config"), StateDir: filepath.Join(base, "state")},
	}
	for _, d := range []string{e.root, e.dirs.Home, e.dirs.ConfigDir, e.dirs.StateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func startServer(t testing.TB, e env, exe Executor, tweak func(*Options)) *testClient {
	t.Helper()
	a, b := net.Pipe()
	opts := Options{Executor: exe, Backend: "fake", Layers: "fake + Landlock ABI 7", Dirs: e.dirs, Debounce: 10 * time.Millisecond, ApprovalTimeout: 5 * time.Second}
	if tweak != nil {
		tweak(&opts)
	}
	c := &testClient{t: t, conn: a, waiting: map[string]chan *jsonrpc2.Response{}, changed: make(chan struct{}, 1), served: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { c.served <- Serve(ctx, b, b, opts); b.Close() }()
	go c.readLoop()
	t.Cleanup(func() {
		cancel()
		a.Close()
		select {
		case <-c.served:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return c
}

func (c *testClient) readLoop() {
	fr := newFrameReader(c.conn)
	for {
		body, err := fr.Read()
		if err != nil {
			return
		}
		msg, err := jsonrpc2.DecodeMessage(body)
		if err != nil {
			// A reply with a null id decodes as a response with an empty id.
			var raw struct {
				ID    any             `json:"id"`
				Error *jsonrpc2.Error `json:"error"`
			}
			if json.Unmarshal(body, &raw) == nil && raw.Error != nil {
				r, _ := jsonrpc2.NewResponse(jsonrpc2.ID{}, nil, raw.Error)
				c.mu.Lock()
				c.nulls = append(c.nulls, r)
				c.mu.Unlock()
				c.poke()
				continue
			}
			c.t.Errorf("client: undecodable message %q: %v", body, err)
			return
		}
		switch m := msg.(type) {
		case *jsonrpc2.Response:
			c.mu.Lock()
			ch := c.waiting[idKey(m.ID())]
			if ch == nil {
				c.nulls = append(c.nulls, m)
			}
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			c.poke()
		case *jsonrpc2.Notification:
			if c.onOutput != nil && m.Method() == "sandbox/output" {
				c.onOutput(m.Params())
				continue
			}
			c.mu.Lock()
			c.notes = append(c.notes, m)
			c.mu.Unlock()
			c.poke()
		case *jsonrpc2.Call:
			go func() {
				var res any
				var err error
				if c.onCall != nil {
					res, err = c.onCall(m.Method(), m.Params())
				}
				if res == errNoAnswer {
					return
				}
				resp, _ := jsonrpc2.NewResponse(m.ID(), res, err)
				data, _ := json.Marshal(resp)
				c.writeRaw(frame(data))
			}()
		}
	}
}

var errNoAnswer = errors.New("leave the request unanswered")

func (c *testClient) poke() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func frame(body []byte) []byte {
	return append([]byte(fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))), body...)
}

func (c *testClient) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.conn.Write(b); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		c.t.Errorf("client write: %v", err)
	}
}

// send issues a request with a numeric id and returns its answer channel.
func (c *testClient) send(method string, params any) (int, chan *jsonrpc2.Response) {
	c.mu.Lock()
	c.seq++
	n := c.seq
	ch := make(chan *jsonrpc2.Response, 1)
	c.waiting[idKey(jsonrpc2.NewNumberID(int32(n)))] = ch
	c.mu.Unlock()
	call, err := jsonrpc2.NewCall(jsonrpc2.NewNumberID(int32(n)), method, params)
	if err != nil {
		c.t.Fatal(err)
	}
	data, _ := json.Marshal(call)
	c.writeRaw(frame(data))
	return n, ch
}

func (c *testClient) wait(ch chan *jsonrpc2.Response, d time.Duration) *jsonrpc2.Response {
	c.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		c.t.Fatalf("no answer within %v", d)
		return nil
	}
}

// request sends and waits, decoding the result into out.
func (c *testClient) request(method string, params, out any) error {
	c.t.Helper()
	_, ch := c.send(method, params)
	r := c.wait(ch, 20*time.Second)
	if r.Err() != nil {
		return r.Err()
	}
	if out != nil {
		return json.Unmarshal(r.Result(), out)
	}
	return nil
}

func (c *testClient) notify(method string, params any) {
	n, _ := jsonrpc2.NewNotification(method, params)
	data, _ := json.Marshal(n)
	c.writeRaw(frame(data))
}

func (c *testClient) initialize(e env, opts map[string]any) {
	c.t.Helper()
	params := map[string]any{
		"processId":        nil,
		"rootUri":          "file://" + e.root,
		"capabilities":     map[string]any{"window": map[string]any{"workDoneProgress": true}},
		"workspaceFolders": []map[string]any{{"uri": "file://" + e.root, "name": "ws"}},
	}
	if opts != nil {
		params["initializationOptions"] = opts
	}
	if err := c.request("initialize", params, nil); err != nil {
		c.t.Fatalf("initialize: %v", err)
	}
	c.notify("initialized", map[string]any{})
}

// waitNote waits for a notification satisfying ok and returns it.
func (c *testClient) waitNote(d time.Duration, ok func(*jsonrpc2.Notification) bool) *jsonrpc2.Notification {
	c.t.Helper()
	deadline := time.After(d)
	c.mu.Lock()
	seen := c.cursor
	c.mu.Unlock()
	for {
		c.mu.Lock()
		notes := c.notes[seen:]
		seen = len(c.notes)
		c.mu.Unlock()
		for _, n := range notes {
			if ok(n) {
				return n
			}
		}
		select {
		case <-c.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			c.t.Fatalf("no matching notification within %v", d)
			return nil
		}
	}
}

type pubDiags struct {
	URI         string `json:"uri"`
	Diagnostics []struct {
		Range struct {
			Start struct{ Line, Character int } `json:"start"`
			End   struct{ Line, Character int } `json:"end"`
		} `json:"range"`
		Code     string          `json:"code"`
		Source   string          `json:"source"`
		Message  string          `json:"message"`
		Severity int             `json:"severity"`
		Data     json.RawMessage `json:"data"`
	} `json:"diagnostics"`
}

// waitDiags waits for a publishDiagnostics on file satisfying ok.
func (c *testClient) waitDiags(file string, d time.Duration, ok func(pubDiags) bool) pubDiags {
	c.t.Helper()
	var got pubDiags
	c.waitNote(d, func(n *jsonrpc2.Notification) bool {
		if n.Method() != "textDocument/publishDiagnostics" {
			return false
		}
		var p pubDiags
		if json.Unmarshal(n.Params(), &p) != nil || p.URI != "file://"+file {
			return false
		}
		if ok(p) {
			got = p
			return true
		}
		return false
	})
	return got
}

// mark makes later waits ignore the notifications received so far.
func (c *testClient) mark() {
	c.mu.Lock()
	c.cursor = len(c.notes)
	c.mu.Unlock()
}

func (c *testClient) nullAnswers() []*jsonrpc2.Response {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*jsonrpc2.Response(nil), c.nulls...)
}

// waitTimeout bounds every wait in these tests, well inside the package
// timeout: a missed deadline fails the test with what it waited for.
const waitTimeout = 30 * time.Second

// recv receives from ch or fails the test after waitTimeout, naming what
// it was waiting for.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %s within %v", what, waitTimeout)
		panic("unreachable")
	}
}
