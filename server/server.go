// Package server is cordon's editor helper (`cordon lsp`): an LSP-style
// JSON-RPC server over stdio that serves every workspace folder with its
// own live policy, runs commands in the sandbox, asks the user about
// unknown hosts and shows what was blocked as diagnostics with quick fixes.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

// Executor runs one command; *runner.Runner is the real one.
type Executor interface {
	Run(ctx context.Context, req runner.Request) (*runner.Outcome, error)
}

// Options configure Serve.
type Options struct {
	Executor     Executor          // required
	Backend      string            // sandbox backend name, for sandbox/status
	Capabilities map[string]string // what the machine offers, for sandbox/status
	// Layers names the isolation layers every run has in force
	// ("bwrap + seccomp + Landlock ABI 7"), for sandbox/status.
	Layers string
	// Dirs locates the user defaults and cordon's state; zero means
	// workspace.DefaultDirs().
	Dirs   workspace.Dirs
	Logger *slog.Logger // default: discard. Never stdout.
	// LogLevel, when set, is the level of Logger's handler: the client's
	// trace setting raises it to debug ("verbose") and back.
	LogLevel  *slog.LevelVar
	baseLevel slog.Level // LogLevel's value at the start
	// ApprovalTimeout bounds how long a question waits for the user; no
	// answer means deny. Default 60 s.
	ApprovalTimeout time.Duration
	Debounce        time.Duration // policy file events; default 20 ms
	// OutputLimit caps the output of one run waiting to be sent to the
	// client; beyond it output is dropped and the drop reported. Default 1 MiB.
	OutputLimit int
	// Environ is the environment runs start from; default os.Environ().
	Environ []string

	// outputRetained, when set, hears the most output bytes a run's pump
	// held at once (waiting or being sent), when the run ends: the tests
	// bound the server's own memory with it, not the process heap's.
	outputRetained func(runID string, peak int)
}

// ExitError is how Serve ends when the process should exit non-zero: an
// exit notification without shutdown, or the client vanishing first.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("lsp: exit status %d", e.Code) }

// ExitCode maps Serve's result to the process exit status.
func ExitCode(err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	default:
		return 1
	}
}

// methods that may run for a long time are served off the ordered queue.
func isLong(method string, params json.RawMessage) bool {
	switch method {
	case "sandbox/run", "sandbox/stop":
		return true
	case "workspace/executeCommand":
		var p struct{ Command string }
		_ = json.Unmarshal(params, &p)
		// revoke waits for the client's answer to workspace/applyEdit,
		// which this loop must stay free to read.
		return p.Command == cmdRun || p.Command == cmdRevoke
	}
	return false
}

// Serve speaks the protocol on in/out until exit or end of input. Every
// run is killed before it returns.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts Options) error {
	if opts.Executor == nil {
		return errors.New("lsp: no executor")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LogLevel != nil {
		opts.baseLevel = opts.LogLevel.Level()
	}
	if opts.ApprovalTimeout <= 0 {
		opts.ApprovalTimeout = 60 * time.Second
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 20 * time.Millisecond
	}
	if opts.OutputLimit <= 0 {
		opts.OutputLimit = 1 << 20
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	if opts.Dirs == (workspace.Dirs{}) {
		d, err := workspace.DefaultDirs()
		if err != nil {
			return fmt.Errorf("lsp: %w", err)
		}
		opts.Dirs = d
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &server{
		opts:    opts,
		log:     opts.Logger,
		conn:    newConn(out),
		ctx:     ctx,
		cancels: map[string]context.CancelFunc{},
		runs:    map[string]*runInfo{},
		refused: map[string]refusal{},
		diags:   newDiagStore(),
	}
	defer func() {
		cancel() // kills every run
		for _, f := range s.snapshotFolders() {
			f.stop()
		}
		s.conn.close()
		s.wg.Wait()
	}()
	return s.loop(in)
}

type server struct {
	opts Options
	log  *slog.Logger
	conn *conn
	ctx  context.Context
	wg   sync.WaitGroup

	runSeq atomic.Int64
	// ready is set by the initialized notification: before it the server
	// may not send the client diagnostics or requests.
	ready atomic.Bool

	mu          sync.Mutex
	state       int // 0 new, 1 initialized, 2 shut down
	folders     []*folder
	client      clientInfo
	cancels     map[string]context.CancelFunc // by request id
	runs        map[string]*runInfo
	trustAsking map[string]bool    // policy hashes being asked about
	refused     map[string]refusal // folder root NUL host:port the user denied this session

	diags *diagStore
	docs  docs // open policy files
}

type clientInfo struct {
	snippets         bool // completion snippets
	approvals        bool
	workDoneProgress bool
	userConfig       string
}

const (
	stateNew = iota
	stateRunning
	stateShutdown
)

func (s *server) loop(in io.Reader) error {
	fr := newFrameReader(in)
	for {
		body, err := fr.Read()
		var fe *frameError
		if errors.As(err, &fe) {
			s.log.Warn("bad frame", "err", err)
			if werr := s.conn.replyNullID(jsonrpc2.ParseError, fe.Error()); werr != nil {
				return werr
			}
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) {
				return s.endOfInput()
			}
			return fmt.Errorf("lsp: reading: %w", err)
		}
		msg, err := jsonrpc2.DecodeMessage(body)
		if err != nil {
			code := jsonrpc2.ParseError
			if json.Valid(body) {
				var probe struct {
					Method *string `json:"method"`
					Result any     `json:"result"`
					Error  any     `json:"error"`
				}
				if json.Unmarshal(body, &probe) == nil && probe.Method == nil && (probe.Result != nil || probe.Error != nil) {
					// A response we cannot match; answering it would be a
					// reply to a reply.
					s.log.Warn("dropping unmatched response", "err", err)
					continue
				}
				code = jsonrpc2.InvalidRequest
			}
			if werr := s.conn.replyNullID(code, fmt.Sprintf("decoding message: %v", err)); werr != nil {
				return werr
			}
			continue
		}
		switch m := msg.(type) {
		case *jsonrpc2.Response:
			s.conn.deliver(m)
		case *jsonrpc2.Notification:
			if m.Method() == "exit" {
				s.mu.Lock()
				st := s.state
				s.mu.Unlock()
				if st == stateShutdown {
					return nil
				}
				return &ExitError{Code: 1}
			}
			s.notification(m)
		case *jsonrpc2.Call:
			if isLong(m.Method(), m.Params()) {
				key := idKey(m.ID())
				rctx, cancel := context.WithCancel(s.ctx)
				s.mu.Lock()
				s.cancels[key] = cancel
				s.mu.Unlock()
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					defer func() {
						s.mu.Lock()
						delete(s.cancels, key)
						s.mu.Unlock()
						cancel()
					}()
					s.call(rctx, m)
				}()
				continue
			}
			s.call(s.ctx, m)
		}
	}
}

// endOfInput: the editor is gone. Runs die in Serve's deferred cancel.
func (s *server) endOfInput() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateShutdown {
		return nil
	}
	return &ExitError{Code: 1}
}

func (s *server) notification(n *jsonrpc2.Notification) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in notification", "method", n.Method(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	switch n.Method() {
	case "$/cancelRequest":
		var p struct {
			ID jsonrpc2.ID `json:"id"`
		}
		if json.Unmarshal(n.Params(), &p) != nil {
			return
		}
		s.mu.Lock()
		cancel := s.cancels[idKey(p.ID)]
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	case "initialized":
		s.startWatching()
	case "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose", "textDocument/didSave":
		s.textSync(n.Method(), n.Params())
	case "$/setTrace":
		s.setTrace(n.Params())
	default:
		// Unknown notifications are ignored, as the protocol requires.
	}
}

// call answers one request; the reply is written whatever became of ctx.
func (s *server) call(ctx context.Context, c *jsonrpc2.Call) {
	var (
		result any
		err    error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in request", "method", c.Method(), "panic", r, "stack", string(debug.Stack()))
				err = jsonrpc2.Errorf(jsonrpc2.InternalError, "internal error in %s", c.Method())
			}
		}()
		result, err = s.handle(ctx, c.Method(), c.Params())
	}()
	if err != nil && ctx.Err() != nil && s.ctx.Err() == nil {
		err = jsonrpc2.Errorf(requestCancelled, "request cancelled: %v", err)
	}
	if werr := s.conn.reply(c.ID(), result, err); werr != nil {
		s.log.Warn("writing reply", "method", c.Method(), "err", werr)
	}
}

const requestCancelled jsonrpc2.Code = -32800

func (s *server) handle(ctx context.Context, method string, params json.RawMessage) (any, error) {
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	switch {
	case method == "initialize":
		if st != stateNew {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "initialize sent twice")
		}
		return s.initialize(params)
	case st == stateNew:
		return nil, jsonrpc2.Errorf(jsonrpc2.ServerNotInitialized, "%s before initialize", method)
	case st == stateShutdown && method != "shutdown":
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidRequest, "%s after shutdown", method)
	}
	switch method {
	case "shutdown":
		s.mu.Lock()
		s.state = stateShutdown
		for _, cancel := range s.cancels {
			cancel()
		}
		s.mu.Unlock()
		return nil, nil
	case "sandbox/run":
		var p runParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "sandbox/run: %v", err)
		}
		return s.run(ctx, p)
	case "sandbox/status":
		return s.status(), nil
	case "sandbox/stop":
		return s.stop(ctx, params)
	case "workspace/executeCommand":
		return s.executeCommand(ctx, params)
	case "textDocument/codeAction":
		return s.codeAction(params)
	case "textDocument/completion":
		return s.completion(params)
	case "textDocument/hover":
		return s.hover(params)
	case "textDocument/documentSymbol":
		return s.documentSymbol(params)
	}
	return nil, jsonrpc2.Errorf(jsonrpc2.MethodNotFound, "method not found: %s", method)
}
