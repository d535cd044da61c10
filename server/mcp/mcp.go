// Package mcp is `cordon mcp`: a Model Context Protocol server over stdio
// whose tools run commands in the workspace's sandbox (run), and describe
// the sandbox (status) and the effective policy (explain). Unknown hosts
// are asked of the user through MCP elicitation when the client offers it,
// else through the workspace's editor session, else denied with a reason
// the model can act on.
package mcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/server/control"
	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

// Executor runs one command; *runner.Runner is the real one.
type Executor interface {
	Run(ctx context.Context, req runner.Request) (*runner.Outcome, error)
}

// Options configure Serve.
type Options struct {
	Executor Executor // required
	// Load loads the workspace policy; it is called for every tool call,
	// so an edited .sandbox.toml applies to the next run.
	Load         func() (*workspace.Policy, error)
	Backend      string            // the sandbox backend, for status
	Capabilities map[string]string // what the machine offers (the backend's layers), for status
	Environ      []string          // what runs start from (the backend scrubs secrets); default os.Environ()
	// Room opens a run in the workspace's editor session; nil, or
	// control.ErrNoSession, means none.
	Room func(ctx context.Context, h control.Hello) (*control.Run, error)
	// OutputLimit bounds each stream shown to the model; default 64 KiB.
	OutputLimit int
	// ProgressEvery is the interval of progress notifications; default 1 s.
	ProgressEvery time.Duration
	Version       string
	Logger        *slog.Logger
}

// Serve speaks MCP on t until the client goes away or ctx ends. Every run
// is killed before it returns.
func Serve(ctx context.Context, t sdk.Transport, opts Options) error {
	if opts.Executor == nil || opts.Load == nil {
		return errors.New("mcp: no executor or policy loader")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OutputLimit <= 0 {
		opts.OutputLimit = 64 << 10
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	s := &server{opts: opts}
	srv := sdk.NewServer(&sdk.Implementation{Name: "cordon", Version: opts.Version}, &sdk.ServerOptions{
		Instructions: "Every command you run through the run tool executes in cordon's sandbox: the workspace is writable, the rest of the machine read-only, credentials unreadable, and the network filtered by the user's policy. What the sandbox blocks is reported with the rule that decided it; ask the user to change the policy rather than working around it.",
		Logger:       opts.Logger,
	})
	sdk.AddTool(srv, &sdk.Tool{
		Name: "run",
		Description: "Run a shell command (/bin/sh -c) in the workspace's sandbox and return its output, exit status and every access the sandbox blocked. " +
			"The workspace and a private temp dir are writable, the rest of the machine is read-only, credentials are unreadable and secret environment variables are removed; network connections go through the user's host rules. " +
			"Output is bounded (the start and the end of a long output are kept). The command gets no standard input.",
		Annotations: &sdk.ToolAnnotations{Title: "Run in the sandbox", OpenWorldHint: ptr(true)},
	}, s.run)
	sdk.AddTool(srv, &sdk.Tool{
		Name:        "status",
		Description: "Describe the sandbox: the workspace root, the policy file and whether it is trusted (what an untrusted file widens is left out), the backend and the isolation layers this machine offers.",
		Annotations: &sdk.ToolAnnotations{Title: "Sandbox status", ReadOnlyHint: true},
	}, s.status)
	sdk.AddTool(srv, &sdk.Tool{
		Name:        "explain",
		Description: "The effective policy of the workspace, rule by rule, each with the file and line it came from (what `cordon explain` prints).",
		Annotations: &sdk.ToolAnnotations{Title: "Explain the policy", ReadOnlyHint: true},
	}, s.explain)
	err := srv.Run(ctx, t)
	s.wg.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return err
}

func ptr[T any](v T) *T { return &v }

type server struct {
	opts   Options
	runSeq atomic.Int64
	wg     sync.WaitGroup
}

// RunInput is the run tool's arguments.
type RunInput struct {
	Command   string `json:"command" jsonschema:"the shell command line, run with /bin/sh -c"`
	Cwd       string `json:"cwd,omitempty" jsonschema:"working directory, absolute or relative to the workspace root; it must lie inside the workspace (default: the root)"`
	TimeoutMs int64  `json:"timeout_ms,omitempty" jsonschema:"kill the command after this many milliseconds (default: the policy's timeout)"`
}

// RunOutput is the run tool's structured result.
type RunOutput struct {
	ExitCode   int             `json:"exitCode" jsonschema:"the command's exit status; 128+N when signal N ended it"`
	Signal     int             `json:"signal,omitempty" jsonschema:"the signal that ended the command, if one did"`
	TimedOut   bool            `json:"timedOut,omitempty"`
	Stdout     string          `json:"stdout"`
	Stderr     string          `json:"stderr"`
	Violations []ViolationInfo `json:"violations" jsonschema:"each access the sandbox blocked"`
	Truncated  bool            `json:"truncated" jsonschema:"part of stdout or stderr was left out (the start and the end are kept)"`
}

// ViolationInfo is one blocked access, for the model.
type ViolationInfo struct {
	Kind        string `json:"kind" jsonschema:"write, read, net or unix-socket"`
	Target      string `json:"target" jsonschema:"the path, host:port or socket"`
	Rule        string `json:"rule" jsonschema:"the deciding rule as FILE:LINE, or default"`
	Explanation string `json:"explanation" jsonschema:"what was blocked and what the user could change"`
}

// toolError is a result the model reads as "the command could not be run".
func toolError(format string, args ...any) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf(format, args...)}}}
}

func invalidParams(format string, args ...any) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

func (s *server) run(ctx context.Context, req *sdk.CallToolRequest, in RunInput) (*sdk.CallToolResult, RunOutput, error) {
	var none RunOutput
	if strings.TrimSpace(in.Command) == "" {
		return nil, none, invalidParams("run: command is empty")
	}
	if strings.ContainsRune(in.Command, 0) {
		return nil, none, invalidParams("run: command contains a NUL byte")
	}
	if in.TimeoutMs < 0 {
		return nil, none, invalidParams("run: timeout_ms is negative")
	}
	pol, err := s.opts.Load()
	if err != nil {
		return toolError("cordon could not load the policy, nothing was run: %v", err), none, nil
	}
	dir, err := runDir(pol, in.Cwd)
	if err != nil {
		return toolError("nothing was run: %v", err), none, nil
	}
	s.wg.Add(1)
	defer s.wg.Done()

	runID := "mcp-" + strconv.FormatInt(s.runSeq.Add(1), 10)
	var room *control.Run
	if s.opts.Room != nil {
		room, err = s.opts.Room(ctx, control.Hello{Origin: control.OriginMCP, Command: in.Command, Cwd: dir})
		switch {
		case err == nil:
			runID = room.ID
			defer room.Close()
			// sandbox/stop in the editor ends this run.
			var cancel context.CancelFunc
			ctx, cancel = room.StopContext(ctx)
			defer cancel()
		case !errors.Is(err, control.ErrNoSession):
			s.opts.Logger.Warn("editor session", "err", err)
		}
	}
	prog := newProgress(ctx, req, s.opts.ProgressEvery)
	defer prog.stop()
	stdout, stderr := newCapture(s.opts.OutputLimit), newCapture(s.opts.OutputLimit)
	prog.streams = []*capture{stdout, stderr}
	asked := &denials{}
	outcome, err := s.opts.Executor.Run(ctx, runner.Request{
		RunID:    runID,
		Label:    in.Command,
		Policy:   func() *workspace.Policy { return pol },
		Argv:     []string{"/bin/sh", "-c", in.Command},
		Dir:      dir,
		Env:      s.opts.Environ,
		Stdout:   stdout,
		Stderr:   stderr,
		Timeout:  time.Duration(in.TimeoutMs) * time.Millisecond,
		Approver: s.approver(req, room, asked),
		OnViolation: func(v sandbox.Violation) {
			if room != nil {
				room.Violation(v)
			}
			prog.note("blocked " + string(v.Kind) + " " + v.Target)
		},
	})
	if err != nil {
		if room != nil {
			room.End(exitSetupCode)
		}
		if errors.Is(err, runner.ErrSetup) {
			return toolError("the sandbox could not be set up, nothing was run: %v", err), none, nil
		}
		return toolError("the run failed: %v", err), none, nil
	}
	if room != nil {
		room.End(outcome.ExitCode)
	}
	out := RunOutput{ExitCode: outcome.ExitCode, Signal: outcome.Signal, TimedOut: outcome.TimedOut, Violations: []ViolationInfo{}}
	var t1, t2 bool
	out.Stdout, t1 = stdout.text()
	out.Stderr, t2 = stderr.text()
	out.Truncated = t1 || t2
	for _, v := range outcome.Violations {
		out.Violations = append(out.Violations, ViolationInfo{Kind: string(v.Kind), Target: v.Target, Rule: v.Rule.String(), Explanation: explainViolation(v, pol)})
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: runText(in.Command, pol, out, asked)}}}, out, nil
}

// exitSetupCode is DESIGN's "the sandbox could not be set up".
const exitSetupCode = 125

// runDir resolves cwd inside the workspace; a symlink may not lead out.
func runDir(pol *workspace.Policy, cwd string) (string, error) {
	dir := pol.Root
	if cwd != "" {
		dir = cwd
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(pol.Root, dir)
		}
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(dir))
	if err != nil {
		return "", fmt.Errorf("cwd %s: %w", cwd, err)
	}
	for _, root := range pol.Folders {
		if rel, err := filepath.Rel(root, real); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return real, nil
		}
	}
	return "", fmt.Errorf("cwd %s is outside the workspace %s", cwd, pol.Root)
}

// runText is what the model reads.
func runText(command string, pol *workspace.Policy, out RunOutput, asked *denials) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ %s\n", command)
	switch {
	case out.TimedOut:
		fmt.Fprintf(&b, "The command timed out and was killed (exit status %d).\n", out.ExitCode)
	case out.Signal != 0:
		fmt.Fprintf(&b, "The command was ended by signal %d (exit status %d).\n", out.Signal, out.ExitCode)
	default:
		fmt.Fprintf(&b, "exit status %d\n", out.ExitCode)
	}
	if out.Stdout != "" {
		fmt.Fprintf(&b, "\nstdout:\n%s", out.Stdout)
		if !strings.HasSuffix(out.Stdout, "\n") {
			b.WriteByte('\n')
		}
	}
	if out.Stderr != "" {
		fmt.Fprintf(&b, "\nstderr:\n%s", out.Stderr)
		if !strings.HasSuffix(out.Stderr, "\n") {
			b.WriteByte('\n')
		}
	}
	if len(out.Violations) > 0 {
		b.WriteString("\nThe sandbox blocked:\n")
		for _, v := range out.Violations {
			fmt.Fprintf(&b, "- %s\n", v.Explanation)
		}
	}
	for _, why := range asked.list() {
		fmt.Fprintf(&b, "- %s\n", why)
	}
	if len(pol.Untrusted) > 0 {
		fmt.Fprintf(&b, "\nNote: %s is not trusted yet, so what it widens was left out:", pol.File)
		for _, w := range pol.Untrusted {
			fmt.Fprintf(&b, " %s %s;", w.Kind, w.Target)
		}
		b.WriteString(" the user can approve it with `cordon trust`.\n")
	}
	return b.String()
}

// denials collects why unknown hosts were denied without a question.
type denials struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (d *denials) add(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	d.seen[s] = true
}

func (d *denials) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.seen))
	for s := range d.seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// approver asks about unknown hosts: the MCP client's user when the client
// supports elicitation, else the editor session, else nobody (deny, with
// a reason for the model).
func (s *server) approver(req *sdk.CallToolRequest, room *control.Run, asked *denials) proxy.Approver {
	elicit := false
	if p := req.Session.InitializeParams(); p != nil && p.Capabilities != nil && p.Capabilities.Elicitation != nil {
		elicit = true
	}
	return proxy.ApproverFunc(func(ctx context.Context, q proxy.Question) (proxy.Answer, error) {
		target := hostPort(q.Host, q.Port)
		switch {
		case elicit:
			return s.elicit(ctx, req.Session, q, target)
		case room != nil:
			return room.Approve(ctx, q)
		}
		asked.add(fmt.Sprintf("%s is not in the policy and there was nobody to ask (this MCP client cannot ask its user, and no editor session serves the workspace): ask the user to allow %s in [network] allow of the workspace's .sandbox.toml.", target, q.Host))
		return proxy.Deny, nil
	})
}

func hostPort(host string, port int) string { return host + ":" + strconv.Itoa(port) }

// Elicitation answers.
const (
	choiceOnce = "allow once"
	choiceRun  = "allow for this run"
	choiceDeny = "deny"
)

func (s *server) elicit(ctx context.Context, ss *sdk.ServerSession, q proxy.Question, target string) (proxy.Answer, error) {
	res, err := ss.Elicit(ctx, &sdk.ElicitParams{
		Message: fmt.Sprintf("The sandboxed command %q wants to connect to %s, which the workspace policy does not mention.", q.Command, target),
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"decision": map[string]any{
					"type":        "string",
					"title":       "Allow " + target + "?",
					"enum":        []string{choiceOnce, choiceRun, choiceDeny},
					"description": "allow once: this connection; allow for this run: every connection of this command to it; deny: refuse it",
				},
			},
			"required": []string{"decision"},
		},
	})
	if err != nil {
		s.opts.Logger.Info("elicitation failed", "target", target, "err", err)
		return proxy.Deny, nil
	}
	if res.Action != "accept" {
		return proxy.Deny, nil
	}
	switch res.Content["decision"] {
	case choiceOnce:
		return proxy.AllowConnection, nil // this connection only, as the choice says
	case choiceRun:
		return proxy.AllowAlways, nil
	}
	return proxy.Deny, nil
}

// progress reports a long run to a client that gave a progress token.
type progress struct {
	ss      *sdk.ServerSession
	token   any
	start   time.Time
	streams []*capture
	stopped chan struct{}
	once    sync.Once
	mu      sync.Mutex
	n       float64
}

func newProgress(ctx context.Context, req *sdk.CallToolRequest, every time.Duration) *progress {
	p := &progress{ss: req.Session, token: req.Params.GetProgressToken(), start: time.Now(), stopped: make(chan struct{})}
	if p.token == nil {
		return p
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.stopped:
				return
			case <-t.C:
				var n int64
				for _, c := range p.streams {
					n += c.bytes()
				}
				p.note(fmt.Sprintf("running for %s, %d bytes of output", time.Since(p.start).Round(time.Second), n))
			}
		}
	}()
	return p
}

func (p *progress) note(msg string) {
	if p.token == nil {
		return
	}
	p.mu.Lock()
	p.n++
	n := p.n
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.ss.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: p.token, Progress: n, Message: msg})
}

func (p *progress) stop() { p.once.Do(func() { close(p.stopped) }) }

// StatusOutput is the status tool's structured result.
type StatusOutput struct {
	Root         string            `json:"root"`
	PolicyFile   string            `json:"policyFile"`
	PolicyExists bool              `json:"policyExists"`
	Trusted      bool              `json:"trusted" jsonschema:"the policy file's current content is approved, or it widens nothing"`
	LeftOut      []string          `json:"leftOut" jsonschema:"what an untrusted policy file widens, left out until the user runs cordon trust"`
	Backend      string            `json:"backend"`
	Layers       map[string]string `json:"layers" jsonschema:"the isolation layers this machine offers and their state"`
	Error        string            `json:"error,omitempty" jsonschema:"why the policy could not be loaded (nothing runs until it is fixed)"`
}

func (s *server) status(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, StatusOutput, error) {
	out := StatusOutput{Backend: s.opts.Backend, Layers: s.opts.Capabilities, LeftOut: []string{}}
	if out.Layers == nil {
		out.Layers = map[string]string{}
	}
	pol, err := s.opts.Load()
	var b strings.Builder
	if err != nil {
		out.Error = err.Error()
		fmt.Fprintf(&b, "The policy could not be loaded; no command runs until it is fixed:\n%v\n", err)
	} else {
		out.Root, out.PolicyFile, out.PolicyExists, out.Trusted = pol.Root, pol.File, pol.Hash != "", pol.Trusted
		for _, w := range pol.Untrusted {
			out.LeftOut = append(out.LeftOut, w.String())
		}
		fmt.Fprintf(&b, "workspace  %s\n", pol.Root)
		state := "absent: the built-in defaults apply"
		switch {
		case out.PolicyExists && pol.Trusted:
			state = "trusted"
		case out.PolicyExists:
			state = "NOT trusted: its widenings are left out until the user runs `cordon trust`"
		}
		fmt.Fprintf(&b, "policy     %s (%s)\n", pol.File, state)
		for _, w := range out.LeftOut {
			fmt.Fprintf(&b, "  left out: %s\n", w)
		}
	}
	fmt.Fprintf(&b, "backend    %s\n", out.Backend)
	keys := make([]string, 0, len(out.Layers))
	for k := range out.Layers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-10s %s\n", k, out.Layers[k])
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: b.String()}}}, out, nil
}

func (s *server) explain(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
	pol, err := s.opts.Load()
	if err != nil {
		return toolError("the policy could not be loaded: %v", err), nil, nil
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: workspace.Explain(pol)}}}, nil, nil
}
