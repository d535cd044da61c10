//go:build linux

package linux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/netinside"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"golang.org/x/sys/unix"
)

// bridge is the host half of the sandbox's network: it accepts on the
// loopback listeners the init made inside the sandbox's network namespace
// (handed over through the control socket) and relays each connection to
// the run's proxy socket. Mirrored localhost ports are relayed as a SOCKS5
// CONNECT to localhost:PORT, so the proxy decides and audits them too.
type bridge struct {
	control *os.File
	netSpec *sandbox.Network
	logger  *slog.Logger
	judge   *supervisor.Judge // nil: no write observer
	guards  *supervisor.GuardPool

	stopCapture []func()
	connector   *connector // nil: no published port
	obs         *supervisor.Observer
	ready       chan struct{} // closed once the hand-off is handled
	reached     bool          // the init stage handed off, set up (set before ready closes)

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[net.Conn]bool
	closed    bool
	err       error
	wg        sync.WaitGroup
}

func startBridge(control *os.File, netSpec *sandbox.Network, logger *slog.Logger, judge *supervisor.Judge, guards *supervisor.GuardPool) *bridge {
	b := &bridge{control: control, netSpec: netSpec, logger: logger, judge: judge, guards: guards, conns: map[net.Conn]bool{}, ready: make(chan struct{})}
	b.wg.Add(1)
	go b.receive()
	return b
}

func (b *bridge) receive() {
	defer b.wg.Done()
	defer b.control.Close()
	defer close(b.ready)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(64*4))
	n, oobn, _, _, err := unix.Recvmsg(int(b.control.Fd()), buf, oob, 0)
	if err != nil || n == 0 {
		return // the init died before the hand-off; Wait reports its status
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for _, m := range msgs {
				if r, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, r...)
				}
			}
		}
	}
	var h initstage.Handoff
	if err := json.Unmarshal(buf[:n], &h); err != nil || h.Error != "" {
		b.fail(fmt.Errorf("sandbox init: %s", h.Error))
		closeFDs(fds)
		return
	}
	b.reached = true
	obsFD := -1
	if h.Observer && len(fds) > 0 {
		obsFD = fds[len(fds)-1]
		fds = fds[:len(fds)-1]
	}
	var capture *netinside.Supervisor
	if h.Capture && len(fds) >= 2 {
		capture = b.startCapture(fds[len(fds)-2], fds[len(fds)-1])
		fds = fds[:len(fds)-2]
	}
	if h.Connector && len(fds) >= 2 {
		// fds[0], the proxy listener, was made by the stage before any of
		// the command's code ran: its namespace is the sandbox's.
		connFD := fds[len(fds)-1]
		fds = fds[:len(fds)-1]
		if b.netSpec != nil && len(b.netSpec.Publish) > 0 {
			b.startPublish(connFD, fds[0])
		} else {
			unix.Close(connFD)
		}
	}
	if obsFD >= 0 {
		if b.judge != nil {
			b.mu.Lock()
			b.obs = supervisor.StartObserver(obsFD, b.judge, capture, b.guards)
			b.mu.Unlock()
		} else {
			unix.Close(obsFD)
		}
	}
	if b.netSpec == nil || len(fds) == 0 {
		closeFDs(fds)
		return
	}
	targets := append([]int{0}, h.Mirror...) // 0: the proxy itself
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "bridge")
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil || i >= len(targets) {
			continue
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			ln.Close()
			continue
		}
		b.listeners = append(b.listeners, ln)
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(ln, targets[i])
	}
}

// startCapture serves the sandbox's DNS from a fresh pool and returns
// the supervisor for connect() notifications; nil when the run has no
// network (then captured destinations are refused by the observer's
// default: a pool address has no route inside).
func (b *bridge) startCapture(lnFD, dnsFD int) *netinside.Supervisor {
	lf, df := os.NewFile(uintptr(lnFD), "capture"), os.NewFile(uintptr(dnsFD), "dns")
	defer lf.Close()
	defer df.Close()
	if b.netSpec == nil {
		return nil
	}
	ln, err1 := net.FileListener(lf)
	pc, err2 := net.FilePacketConn(df)
	pool, err3 := netinside.NewPool(netinside.DefaultPool)
	if err := errors.Join(err1, err2, err3); err != nil {
		b.logger.Warn("capture", "err", err)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.mu.Lock()
	b.stopCapture = append(b.stopCapture, cancel, func() { ln.Close(); pc.Close() })
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_ = pool.ServeDNS(ctx, pc)
	}()
	sock := b.netSpec.ProxySocket
	return &netinside.Supervisor{
		Pool:     pool,
		Listener: ln.(*net.TCPListener),
		DNS:      pc.LocalAddr().(*net.UDPAddr).AddrPort(),
		Logger:   b.logger,
		DialProxy: func(ctx context.Context) (*net.UnixConn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", sock)
			if err != nil {
				return nil, err
			}
			return c.(*net.UnixConn), nil
		},
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func (b *bridge) fail(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

// handedOff says whether the init stage reached the hand-off, that is,
// whether the sandbox was set up. Call it once the sandbox is gone.
func (b *bridge) handedOff() bool {
	<-b.ready
	return b.reached
}

func (b *bridge) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *bridge) serve(ln net.Listener, mirrorPort int) {
	defer b.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !b.track(c) {
			c.Close()
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer b.untrack(c)
			b.relay(c, mirrorPort)
		}()
	}
}

func (b *bridge) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = true
	return true
}

func (b *bridge) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	c.Close()
}

// relay pipes one connection to the proxy. Both ends are the raw
// *net.TCPConn and *net.UnixConn, so io.Copy uses splice(2).
func (b *bridge) relay(c net.Conn, mirrorPort int) {
	if mirrorPort == 0 && b.netSpec.Serve != nil {
		b.netSpec.Serve(c)
		return
	}
	up, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: b.netSpec.ProxySocket, Net: "unix"})
	if err != nil {
		b.logger.Warn("bridge: proxy unreachable", "err", err)
		return
	}
	if !b.track(up) {
		up.Close()
		return
	}
	defer b.untrack(up)
	if mirrorPort != 0 {
		if err := netinside.SOCKSConnect(context.Background(), up, "localhost", mirrorPort); err != nil {
			return
		}
	}
	if tc, ok := c.(*net.TCPConn); ok { // always: the listeners are TCP
		netinside.Join(tc, up)
	}
}

// violations stops the write observer, if any, and returns what it saw.
// Call it once the sandbox is gone.
func (b *bridge) violations() []sandbox.Violation {
	<-b.ready
	b.mu.Lock()
	obs := b.obs
	b.mu.Unlock()
	if obs == nil {
		return nil
	}
	return obs.Stop()
}

// close stops accepting and ends every relayed connection.
func (b *bridge) close() {
	b.mu.Lock()
	b.closed = true
	for _, stop := range b.stopCapture {
		stop()
	}
	if b.connector != nil {
		// Wakes a relay waiting on the connector; closed after the wait.
		_ = unix.Shutdown(b.connector.fd, unix.SHUT_RDWR)
	}
	for _, ln := range b.listeners {
		ln.Close()
	}
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	_ = b.control.Close()
	b.wg.Wait()
	if b.connector != nil {
		unix.Close(b.connector.fd)
	}
}
