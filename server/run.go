package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/server/control"
	"github.com/cordon-dev/cordon/server/runner"
)

// runParams are sandbox/run's params.
type runParams struct {
	Command   json.RawMessage `json:"command"`
	Cwd       string          `json:"cwd,omitempty"`
	Env       json.RawMessage `json:"env,omitempty"`
	TimeoutMs int64           `json:"timeoutMs,omitempty"`
	Label     string          `json:"label,omitempty"`
	// Background answers {runId} at once; the run lives until sandbox/stop,
	// its own exit, or the end of the server, and sandbox/exit tells how
	// it ended.
	Background bool `json:"background,omitempty"`
}

// startedResult is the answer to a background sandbox/run.
type startedResult struct {
	RunID string `json:"runId"`
}

type runResult struct {
	RunID      string              `json:"runId"`
	ExitCode   int                 `json:"exitCode"`
	Signal     int                 `json:"signal,omitempty"`
	TimedOut   bool                `json:"timedOut,omitempty"`
	Violations []sandbox.Violation `json:"violations"`
}

// runInfo is one entry of the runs registry sandbox/status lists: the
// editor's own runs and those routed through the control socket.
type runInfo struct {
	id, label, dir string
	started        time.Time
	background     bool
	stop           context.CancelFunc // ends the run
	done           chan struct{}      // closed when every process of it is gone
	origin         string             // who started it: control.OriginEditor, OriginCLI, OriginMCP, OriginShell
	pid            int                // the routed client's process; 0 for the editor's own
}

func invalid(format string, args ...any) error {
	return jsonrpc2.Errorf(jsonrpc2.InvalidParams, "sandbox/run: "+format, args...)
}

// argv reads command: an argv array, or a string for /bin/sh -c.
func (p runParams) argv() ([]string, error) {
	var argv []string
	if err := json.Unmarshal(p.Command, &argv); err == nil {
		if len(argv) == 0 || argv[0] == "" {
			return nil, invalid("empty command")
		}
		return argv, nil
	}
	var sh string
	if err := json.Unmarshal(p.Command, &sh); err != nil {
		return nil, invalid("command must be a string or an array of strings")
	}
	if strings.TrimSpace(sh) == "" {
		return nil, invalid("empty command")
	}
	return []string{"/bin/sh", "-c", sh}, nil
}

// env reads env: an object of NAME: value, or an array of NAME=value.
func (p runParams) env() ([]string, error) {
	if len(p.Env) == 0 || string(p.Env) == "null" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(p.Env, &m); err == nil {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]string, 0, len(m))
		for _, k := range keys {
			if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(m[k], 0) {
				return nil, invalid("bad environment variable %q", k)
			}
			out = append(out, k+"="+m[k])
		}
		return out, nil
	}
	var list []string
	if err := json.Unmarshal(p.Env, &list); err != nil {
		return nil, invalid("env must be an object or an array of NAME=value")
	}
	for _, kv := range list {
		if i := strings.IndexByte(kv, '='); i <= 0 || strings.ContainsRune(kv, 0) {
			return nil, invalid("bad environment entry %q", kv)
		}
	}
	return list, nil
}

// mergeEnv lays extra over base, later names winning.
func mergeEnv(base, extra []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range append(append([]string(nil), base...), extra...) {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[name]; ok {
			out[i] = kv
			continue
		}
		idx[name] = len(out)
		out = append(out, kv)
	}
	return out
}

// run answers sandbox/run: the run's result, or {runId} at once for a
// background run.
func (s *server) run(ctx context.Context, p runParams) (any, error) {
	if !p.Background {
		return s.runFor(ctx, p, nil)
	}
	// A background run belongs to the server, not to the request: it is
	// not cancelled when the answer is sent, only by sandbox/stop, its own
	// exit, or the server's end (Serve cancels s.ctx and waits for it).
	rctx, cancel := context.WithCancel(s.ctx)
	started := make(chan string, 1)
	failed := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		var id string
		res, err := s.runFor(rctx, p, func(runID string) { id = runID; started <- runID })
		if id == "" {
			failed <- err // refused before it started: the request's error
			return
		}
		s.notifyExit(id, res, err)
	}()
	select {
	case id := <-started:
		return startedResult{RunID: id}, nil
	case err := <-failed:
		return nil, err
	}
}

// notifyExit sends sandbox/exit, how a background run ended: the fields of
// a foreground run's result, or error when it could not be set up.
func (s *server) notifyExit(runID string, res *runResult, err error) {
	ended := map[string]any{"runId": runID}
	switch {
	case res != nil:
		ended["exitCode"], ended["violations"] = res.ExitCode, res.Violations
		if res.Signal != 0 {
			ended["signal"] = res.Signal
		}
		if res.TimedOut {
			ended["timedOut"] = true
		}
	case err != nil:
		ended["error"] = err.Error()
	}
	if err := s.conn.notify("sandbox/exit", ended); err != nil {
		s.log.Warn("sending a background run's end", "run", runID, "err", err)
	}
}

// runFor runs p to its end. onStart, when set, makes the run a background
// one and is told its id once the command started (or is about to).
func (s *server) runFor(ctx context.Context, p runParams, onStart func(runID string)) (*runResult, error) {
	argv, err := p.argv()
	if err != nil {
		return nil, err
	}
	env, err := p.env()
	if err != nil {
		return nil, err
	}
	if p.TimeoutMs < 0 {
		return nil, invalid("negative timeoutMs")
	}
	folders := s.snapshotFolders()
	if len(folders) == 0 {
		return nil, invalid("no workspace folder")
	}
	dir := p.Cwd
	if dir == "" {
		dir = folders[0].root
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(folders[0].root, dir)
	}
	dir = filepath.Clean(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // a symlink must not lead the cwd out of the workspace
	} else {
		return nil, invalid("cwd %s: %v", dir, err)
	}
	f := s.folderFor(dir)
	if f == nil {
		return nil, invalid("cwd %s is outside every workspace folder", dir)
	}
	if f.Policy() == nil {
		f.mu.Lock()
		reason := f.lastErr
		f.mu.Unlock()
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "sandbox/run: the policy of %s is invalid, nothing run: %s", f.root, reason)
	}
	s.offerTrust(f)
	label := p.Label
	if label == "" {
		label = sandbox.CommandLine(argv)
	}
	runID := "run-" + strconv.FormatInt(s.runSeq.Add(1), 10)

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	info := &runInfo{id: runID, label: label, dir: dir, started: time.Now(), background: onStart != nil, stop: stop, done: make(chan struct{}), origin: control.OriginEditor}
	s.mu.Lock()
	s.runs[runID] = info
	progress := s.client.workDoneProgress
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.runs, runID)
		s.mu.Unlock()
		close(info.done)
	}()
	if onStart != nil {
		onStart(runID)
	}

	prog := s.beginProgress(ctx, progress, runID, label)
	s.log.Info("run started", "run", runID, "command", label, "cwd", dir)
	out := newOutputPump(s, runID, s.opts.OutputLimit)
	var vmu sync.Mutex
	outcome, err := s.opts.Executor.Run(ctx, runner.Request{
		RunID:    runID,
		Label:    label,
		Policy:   f.Policy,
		Argv:     argv,
		Dir:      dir,
		Env:      mergeEnv(s.opts.Environ, env),
		Stdin:    nil,
		Stdout:   out.writer("stdout"),
		Stderr:   out.writer("stderr"),
		Timeout:  time.Duration(p.TimeoutMs) * time.Millisecond,
		Approver: s.approver(f, runID),
		OnViolation: func(v sandbox.Violation) {
			vmu.Lock()
			defer vmu.Unlock()
			if err := s.conn.notify("sandbox/violation", v); err != nil {
				s.log.Warn("sending violation", "err", err)
			}
			s.showViolation(f, v)
			prog.report("blocked " + string(v.Kind) + " " + v.Target)
		},
	})
	out.close()
	s.logRunEnd(runID, label, outcome, err, ctx.Err())
	if err != nil {
		prog.end("failed")
		if errors.Is(err, runner.ErrSetup) {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "sandbox/run: %v", err)
		}
		return nil, fmt.Errorf("sandbox/run: %w", err)
	}
	prog.end("exit " + strconv.Itoa(outcome.ExitCode))
	if ctx.Err() != nil && onStart == nil {
		return nil, ctx.Err()
	}
	res := &runResult{RunID: runID, ExitCode: outcome.ExitCode, Signal: outcome.Signal, TimedOut: outcome.TimedOut, Violations: outcome.Violations}
	if res.Violations == nil {
		res.Violations = []sandbox.Violation{}
	}
	return res, nil
}

// stop answers sandbox/stop: it ends the run, background or not, and
// answers once every process of it is gone.
func (s *server) stop(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		RunID string `json:"runId"`
	}
	if err := json.Unmarshal(params, &p); err != nil || p.RunID == "" {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "sandbox/stop: want {runId}")
	}
	s.mu.Lock()
	r := s.runs[p.RunID]
	s.mu.Unlock()
	if r == nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "sandbox/stop: no run %q (it may have ended)", p.RunID)
	}
	r.stop()
	select {
	case <-r.done:
		return struct{}{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// progress sends $/progress for one run; a no-op when the client did not
// create the token.
type progress struct {
	s     *server
	token string
	ok    bool
}

func (s *server) beginProgress(ctx context.Context, supported bool, runID, title string) *progress {
	p := &progress{s: s, token: "cordon/" + runID}
	if !supported {
		return p
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.conn.call(cctx, "window/workDoneProgress/create", map[string]any{"token": p.token}, nil); err != nil {
		s.log.Info("no progress token", "err", err)
		return p
	}
	p.ok = true
	p.send(map[string]any{"kind": "begin", "title": title, "cancellable": true, "message": "running"})
	return p
}

func (p *progress) send(v map[string]any) {
	if !p.ok {
		return
	}
	if err := p.s.conn.notify("$/progress", map[string]any{"token": p.token, "value": v}); err != nil {
		p.s.log.Warn("sending progress", "err", err)
	}
}

func (p *progress) report(msg string) { p.send(map[string]any{"kind": "report", "message": msg}) }
func (p *progress) end(msg string)    { p.send(map[string]any{"kind": "end", "message": msg}) }
