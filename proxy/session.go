package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// Config of one run's proxy session.
type Config struct {
	RunID, Command string
	// Policy returns the current snapshot; it is called for every decision,
	// so a reload applies to runs in flight at once.
	Policy          func() *workspace.Policy
	Approver        Approver      // nil: unknown hosts are denied
	ApprovalTimeout time.Duration // default 60s
	Audit           *Audit        // may be nil
	Dir             string        // parent of the run's 0700 socket directory (default os.TempDir())
	Resolver        Resolver      // default net.DefaultResolver
	// Dialer connects to the checked address (tests); default net.Dialer.
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
	RootCAs    *x509.CertPool // for TLS the proxy makes itself; nil = system roots
	OnDecision func(Decision) // told of each decision as it is made
	Logger     *slog.Logger
}

func (c *Config) resolver() Resolver {
	if c.Resolver != nil {
		return c.Resolver
	}
	return net.DefaultResolver
}

func (c *Config) dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if c.Dialer != nil {
		return c.Dialer.DialContext(ctx, "tcp", addr.String())
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	return d.DialContext(ctx, "tcp", addr.String())
}

// Session is one run's proxy.
type Session struct {
	cfg       Config
	dir       string
	ln        *net.UnixListener
	dec       *decider
	http      *httpFront
	git       *gitFront
	ctx       context.Context
	cancel    context.CancelFunc
	stopAfter func() bool
	logger    *slog.Logger

	mu        sync.Mutex
	decisions []Decision
	conns     map[net.Conn]bool
	closed    bool
	closeDone chan struct{}
	wg        sync.WaitGroup
}

// NewSession listens on a fresh unix socket in a 0700 directory. The
// session ends with ctx or with Close, whichever comes first; Decisions
// stay readable afterwards.
func NewSession(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Policy == nil {
		return nil, errors.New("proxy: no policy")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	parent := cfg.Dir
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "cordon-net-")
	if err != nil {
		return nil, fmt.Errorf("proxy socket directory: %w", err)
	}
	sock := filepath.Join(dir, "proxy.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("proxy socket: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Session{
		cfg: cfg, dir: dir, ln: ln, ctx: sctx, cancel: cancel, logger: cfg.Logger,
		conns: map[net.Conn]bool{}, closeDone: make(chan struct{}),
	}
	s.dec = &decider{cfg: &s.cfg, answered: map[string]answered{}, inflight: map[string]*askCall{}}
	s.http = newHTTPFront(s)
	s.git = newGitFront(s)
	s.wg.Add(1)
	go s.serve()
	// The run's context ending ends the proxy too: nothing outlives its run.
	s.mu.Lock()
	s.stopAfter = context.AfterFunc(ctx, func() { s.Close() })
	s.mu.Unlock()
	return s, nil
}

// SocketPath is the unix socket the sandbox's bridge connects to.
func (s *Session) SocketPath() string { return filepath.Join(s.dir, "proxy.sock") }

// Decisions returns every decision so far, in order.
func (s *Session) Decisions() []Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Decision(nil), s.decisions...)
}

func (s *Session) record(d Decision) {
	s.logger.Debug("net decision", "run", d.RunID, "target", d.Target(), "addr", d.Addr,
		"decision", d.Action, "reason", d.Reason, "rule", d.RuleText)
	s.mu.Lock()
	s.decisions = append(s.decisions, d)
	s.mu.Unlock()
	if s.cfg.Audit != nil {
		if err := s.cfg.Audit.Record(d); err != nil {
			s.logger.Warn("audit log", "err", err)
		}
	}
	if s.cfg.OnDecision != nil {
		s.cfg.OnDecision(d)
	}
}

// decide decides and records.
func (s *Session) decide(host string, port int) (target, Decision) {
	t, d := s.dec.decide(s.ctx, host, port)
	s.record(d)
	return t, d
}

// unreachable records that the destination d allowed did not answer, and
// returns that decision.
func (s *Session) unreachable(d Decision, err error) Decision {
	d.Time, d.Action, d.Reason, d.Error = time.Now(), ActionUnreachable, "unanswered", err.Error()
	s.record(d)
	return d
}

// Close stops listening, ends every connection and removes the socket
// directory. It waits for the session's goroutines, also when another
// Close is already under way.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.closeDone // a concurrent Close (the context's, say) finishes first
		return nil
	}
	s.closed = true
	defer close(s.closeDone)
	if s.stopAfter != nil {
		s.stopAfter()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	s.http.close()
	s.git.close()
	s.wg.Wait()
	os.RemoveAll(s.dir)
	return err
}

func (s *Session) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = true
	return true
}

func (s *Session) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *Session) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(c)
		}()
	}
}

// ServeConn handles one connection from the sandbox in process.
func (s *Session) ServeConn(c net.Conn) {
	if !s.track(c) {
		c.Close()
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	defer s.untrack(c)
	s.handle(c)
}

// handle tells SOCKS5 from HTTP by the first byte.
func (s *Session) handle(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return
	}
	if first[0] == socksVersion {
		_ = c.SetReadDeadline(time.Time{})
		s.serveSOCKS(c)
		return
	}
	// HTTP: read the first request; CONNECT takes our zero-copy path, the
	// rest goes to goproxy on a connection that replays what we read.
	var seen bytes.Buffer
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(first[:]), io.TeeReader(io.LimitReader(c, maxHeaderBytes), &seen)))
	req, err := readRequest(br)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		writeHTTPError(c, 400, "cordon: bad proxy request")
		return
	}
	if req.Method == "CONNECT" {
		s.serveCONNECT(c, req, br)
		return
	}
	replay := io.MultiReader(bytes.NewReader(first[:]), bytes.NewReader(seen.Bytes()), c)
	if isGitRequest(req) {
		s.git.serveConn(&replayConn{Conn: c, r: replay})
		return
	}
	s.http.serveConn(&replayConn{Conn: c, r: replay})
}

// replayConn is a connection whose first bytes are read again.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// pipe relays both ways until either side ends. With raw *net.TCPConn and
// *net.UnixConn on both ends io.Copy uses splice(2).
func pipe(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(b, a)
		closeWrite(b)
		close(done)
	}()
	_, _ = io.Copy(a, b)
	closeWrite(a)
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
