package netinside

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/sandbox/proxyenv"
)

// Config is what the init tells Start.
type Config struct {
	// ProxySocket is the run's proxy socket as seen inside the sandbox
	// (bind-mounted by the backend), e.g. /run/cordon/net/proxy.sock.
	ProxySocket string
	// MirrorPorts are host loopback ports (localhost:PORT rules) mirrored
	// onto the sandbox's own 127.0.0.1 and [::1].
	MirrorPorts []int
	// Self is the cordon binary as seen inside, for `cordon connect` in
	// GIT_SSH_COMMAND; default os.Executable().
	Self string
	// Logger gets relay failures; default discards.
	Logger *slog.Logger
}

// Start runs inside the sandbox's network namespace before the command
// starts: it listens on 127.0.0.1 (a free port) and relays each connection
// byte for byte to the proxy socket, whose server tells HTTP from SOCKS5
// by the first byte; each mirror port is relayed as a SOCKS5 CONNECT to
// localhost:PORT, so the proxy decides and audits it like any host. It
// returns the environment to add to the command and stop, which closes
// every listener and connection and waits for the relays.
//
// Every other loopback port stays the sandbox's own.
func Start(ctx context.Context, cfg Config) (env []string, stop func(), err error) {
	if cfg.ProxySocket == "" {
		return nil, nil, errors.New("netinside: no proxy socket")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Self == "" {
		cfg.Self, _ = os.Executable()
	}
	r := &relay{cfg: cfg, conns: map[net.Conn]struct{}{}}
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("netinside: bridge listener: %w", err)
	}
	r.add(ln, 0)
	for _, p := range cfg.MirrorPorts {
		if p < 1 || p > 65535 {
			r.close()
			return nil, nil, fmt.Errorf("netinside: mirror port %d out of range", p)
		}
		l4, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			r.close()
			return nil, nil, fmt.Errorf("netinside: mirror of localhost:%d: %w", p, err)
		}
		r.add(l4, p)
		// [::1] only when the namespace has IPv6 loopback.
		if l6, err := net.ListenTCP("tcp6", &net.TCPAddr{IP: net.IPv6loopback, Port: p}); err == nil {
			r.add(l6, p)
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	for i, l := range r.lns {
		r.wg.Add(1)
		go r.serve(ctx, l, r.ports[i])
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return proxyenv.Env(nil, port, cfg.Self), r.close, nil
}

type relay struct {
	cfg    Config
	cancel context.CancelFunc

	mu     sync.Mutex
	lns    []*net.TCPListener
	ports  []int // mirror port per listener; 0 for the bridge itself
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (r *relay) add(l *net.TCPListener, port int) {
	r.lns = append(r.lns, l)
	r.ports = append(r.ports, port)
}

func (r *relay) serve(ctx context.Context, l *net.TCPListener, mirror int) {
	defer r.wg.Done()
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer r.untrack(c)
			if err := r.pipe(ctx, c, mirror); err != nil {
				r.cfg.Logger.Debug("netinside: relay", "mirror", mirror, "err", err)
			}
		}()
	}
}

// pipe relays one connection. Both ends are the raw *net.TCPConn and
// *net.UnixConn so io.Copy splices in the kernel.
func (r *relay) pipe(ctx context.Context, c *net.TCPConn, mirror int) error {
	up, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: r.cfg.ProxySocket, Net: "unix"})
	if err != nil {
		return fmt.Errorf("proxy unreachable: %w", err)
	}
	if !r.track(up) {
		up.Close()
		return nil
	}
	defer r.untrack(up)
	if mirror != 0 {
		hctx, cancel := context.WithTimeout(ctx, 70*time.Second) // room for an approval
		err := SOCKSConnect(hctx, up, "localhost", mirror)
		cancel()
		if err != nil {
			return err
		}
	}
	Join(c, up)
	return nil
}

// Join copies both ways until both directions end, half-closing each
// side as its source ends so protocols that shut down writing first work.
func Join(a, b interface {
	net.Conn
	CloseWrite() error
}) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(b, a)
		_ = b.CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(a, b)
	_ = a.CloseWrite()
	<-done
}

func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *relay) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	for _, l := range r.lns {
		l.Close()
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}
