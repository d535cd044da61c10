package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// ErrInUse means another live session already serves the workspace; the
// runs go to that one.
var ErrInUse = errors.New("control: another editor session serves this workspace")

// Listen makes the control socket of the workspace at root. A socket left
// by a session that died (nobody accepts on it) is replaced; a live one is
// ErrInUse; a socket or directory that is not the user's is refused.
func Listen(runtimeDir, root string) (net.Listener, error) {
	if err := EnsureDir(runtimeDir); err != nil {
		return nil, err
	}
	path := SocketPath(runtimeDir, root)
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("unix", path)
		if err == nil {
			// The directory already keeps others out; this is belt and braces.
			if err := os.Chmod(path, 0o600); err != nil {
				l.Close()
				return nil, fmt.Errorf("control: %w", err)
			}
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt > 0 {
			return nil, fmt.Errorf("control: listening on %s: %w", path, err)
		}
		if err := checkOwned(path, false); err != nil {
			return nil, err
		}
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return nil, ErrInUse
		}
		if !errors.Is(derr, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("control: probing %s: %w", path, derr)
		}
		// Stale. Remove it only if it is still the socket we checked (the
		// directory is ours alone, so nobody can swap it in between).
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("control: removing stale %s: %w", filepath.Base(path), err)
		}
	}
}

// Handler is what a session does with its routed runs. Everything it is
// given has been checked: the peer is the user, the host canonical, the
// port in range, the violation's kind one of the four.
type Handler interface {
	// Begin registers a run and names it; an error refuses it. stop asks
	// the client to end the run (it may be called any time, also after End).
	Begin(h Hello, stop func()) (runID string, err error)
	// Approve asks the user about q (RunID and Command filled in from the
	// run, never from the client's question). ctx ends with the run.
	Approve(ctx context.Context, q proxy.Question) proxy.Answer
	Violation(runID string, v sandbox.Violation)
	// End drops the run, however its connection ended.
	End(runID string)
}

// maxPending bounds a run's unanswered questions.
const maxPending = 16

// Serve accepts runs on l until ctx ends or l is closed, and waits for
// every connection it started to end.
func Serve(ctx context.Context, l net.Listener, h Handler, logger *slog.Logger) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				logger.Warn("control socket", "err", err)
			}
			return
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			if err := serveConn(ctx, c, h); err != nil {
				logger.Info("control connection", "err", err)
			}
		}()
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler) error {
	if err := peerIsUs(c); err != nil {
		return err
	}
	var wmu sync.Mutex
	write := func(m message) error {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return writeMessage(c, m)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	sc := newScanner(c)
	if !sc.Scan() {
		return fmt.Errorf("no hello: %v", sc.Err())
	}
	var m message
	if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Type != typeHello || m.Hello == nil {
		_ = write(message{Type: typeRefused, Error: "expected hello"})
		return fmt.Errorf("bad hello")
	}
	hello := *m.Hello
	if err := checkHello(hello); err != nil {
		_ = write(message{Type: typeRefused, Error: err.Error()})
		return err
	}
	runID, err := h.Begin(hello, func() { _ = write(message{Type: typeStop}) })
	if err != nil {
		_ = write(message{Type: typeRefused, Error: err.Error()})
		return err
	}
	defer h.End(runID)
	if err := write(message{Type: typeWelcome, RunID: runID}); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Time{})

	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sem := make(chan struct{}, maxPending)
	for sc.Scan() {
		var m message
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch m.Type {
		case typeApprove:
			id := m.ID
			host, err := workspace.CanonicalHost(m.Host)
			if err != nil || m.Port < 1 || m.Port > 65535 {
				_ = write(message{Type: typeAnswer, ID: id, Decision: proxy.Deny})
				continue
			}
			select {
			case sem <- struct{}{}:
			default:
				_ = write(message{Type: typeAnswer, ID: id, Decision: proxy.Deny})
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				a := h.Approve(rctx, proxy.Question{RunID: runID, Command: hello.Command, Host: host, Port: m.Port})
				_ = write(message{Type: typeAnswer, ID: id, Decision: a})
			}()
		case typeViolation:
			v := m.Violation
			if v == nil || v.Target == "" {
				continue
			}
			switch v.Kind {
			case sandbox.KindWrite, sandbox.KindRead, sandbox.KindNet, sandbox.KindUnixSocket:
			default:
				continue
			}
			v.RunID, v.Command = runID, hello.Command
			if v.Time.IsZero() {
				v.Time = time.Now()
			}
			h.Violation(runID, *v)
		case typeEnd:
			return nil
		}
	}
	return sc.Err()
}

func checkHello(h Hello) error {
	switch h.Origin {
	case OriginCLI, OriginMCP, OriginShell:
	default:
		return fmt.Errorf("unknown origin %q", h.Origin)
	}
	if !filepath.IsAbs(h.Cwd) {
		return fmt.Errorf("cwd %q is not absolute", h.Cwd)
	}
	return nil
}
