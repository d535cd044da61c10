//go:build linux

package linux

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/netinside"
	"golang.org/x/sys/unix"
)

// connectTimeout bounds the host's connect() into the sandbox: a server
// whose backlog is full must not hold a relay (and the run's end) forever.
const connectTimeout = 5 * time.Second

// connector is the host's end of the in-sandbox connector
// (initstage.startConnector): it hands over unconnected TCP sockets made
// in the sandbox's network namespace, one per request.
type connector struct {
	fd    int
	netns nsID // the sandbox's network namespace, from a hand-off socket
	mu    sync.Mutex
}

// nsID identifies a namespace by its nsfs inode.
type nsID struct{ dev, ino uint64 }

// socketNetns is the network namespace socket fd belongs to (SIOCGSKNS;
// the host has CAP_NET_ADMIN over the sandbox's namespace: it made, or
// owns, the user namespace that holds it).
func socketNetns(fd int) (nsID, error) {
	ns, err := unix.IoctlRetInt(fd, unix.SIOCGSKNS)
	if err != nil {
		return nsID{}, fmt.Errorf("the socket's network namespace: %w", err)
	}
	defer unix.Close(ns)
	var st unix.Stat_t
	if err := unix.Fstat(ns, &st); err != nil {
		return nsID{}, err
	}
	return nsID{st.Dev, st.Ino}, nil
}

// socket asks for one socket of the family and checks it is what the host
// may connect: a TCP socket of the sandbox's own network namespace. The
// connector runs inside, so what it sends is the sandbox's to choose:
// another kind of socket (a unix one would resolve its address in the
// host's filesystem) or a socket of another namespace is refused.
func (c *connector) socket(family byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := unix.Sendmsg(c.fd, []byte{family}, nil, nil, 0); err != nil {
		return -1, fmt.Errorf("connector: %w", err)
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || n == 0 {
		return -1, fmt.Errorf("connector: gone (%v)", err)
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, r...)
			}
		}
	}
	if len(fds) != 1 {
		closeFDs(fds)
		return -1, errors.New("connector: no socket")
	}
	fd := fds[0]
	want := unix.AF_INET
	if family == initstage.ConnectIPv6 {
		want = unix.AF_INET6
	}
	if err := c.check(fd, want); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (c *connector) check(fd, family int) error {
	for _, o := range []struct{ opt, want int }{
		{unix.SO_DOMAIN, family}, {unix.SO_TYPE, unix.SOCK_STREAM}, {unix.SO_PROTOCOL, unix.IPPROTO_TCP},
	} {
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, o.opt); err != nil || v != o.want {
			return fmt.Errorf("connector: not a TCP socket of the sandbox (option %d = %d, %v)", o.opt, v, err)
		}
	}
	ns, err := socketNetns(fd)
	if err != nil {
		return err
	}
	if ns != c.netns {
		return errors.New("connector: a socket of another network namespace")
	}
	return nil
}

// dial connects into the sandbox to its loopback's port: 127.0.0.1, or
// ::1 when nothing listens there (a server on "localhost" may take either).
func (c *connector) dial(port int) (*net.TCPConn, error) {
	conn, err := c.dialFamily(initstage.ConnectIPv4, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	if errors.Is(err, unix.ECONNREFUSED) {
		if c6, err6 := c.dialFamily(initstage.ConnectIPv6, &unix.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}); err6 == nil {
			return c6, nil
		}
	}
	return conn, err
}

func (c *connector) dialFamily(family byte, sa unix.Sockaddr) (*net.TCPConn, error) {
	fd, err := c.socket(family)
	if err != nil {
		return nil, err
	}
	tv := unix.NsecToTimeval(connectTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err == nil {
		err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{})
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "published")
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, errors.New("connector: not a TCP connection")
	}
	return tc, nil
}

// startPublish listens on the host's loopback for every published port
// and relays each connection to the same port on the sandbox's loopback.
// Only loopback addresses are bound, and a port something on the host
// holds already is skipped (logged), never taken over: cordon binds
// nothing inside the sandbox for the host, and nothing on the host beyond
// 127.0.0.1 and ::1.
func (b *bridge) startPublish(connFD, refFD int) {
	ns, err := socketNetns(refFD)
	if err != nil {
		b.logger.Warn("publish: no port published", "err", err)
		unix.Close(connFD)
		return
	}
	c := &connector{fd: connFD, netns: ns}
	b.mu.Lock()
	b.connector = c
	b.mu.Unlock()
	for _, port := range b.netSpec.Publish {
		lns, err := listenLoopback(port)
		if err != nil {
			// Info: a background dev server holding the port makes
			// every other run of the workspace find it taken.
			b.logger.Info("publish: not published on the host", "port", port, "err", err)
			continue
		}
		for _, ln := range lns {
			b.mu.Lock()
			if b.closed {
				b.mu.Unlock()
				ln.Close()
				continue
			}
			b.listeners = append(b.listeners, ln)
			b.mu.Unlock()
			b.wg.Add(1)
			go b.servePublished(ln, c, port)
		}
	}
}

// listenLoopback listens on the host's 127.0.0.1:port and [::1]:port, or
// on 127.0.0.1 alone when the host has no IPv6 loopback. Either address
// in use on the host refuses the port: with the other one published,
// clients of the host's own server that resolve localhost to that
// address would reach the sandbox's server instead.
func listenLoopback(port int) ([]net.Listener, error) {
	p := strconv.Itoa(port)
	ln4, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", p))
	if err != nil {
		return nil, err
	}
	ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", p))
	switch {
	case err == nil:
		return []net.Listener{ln4, ln6}, nil
	case errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.EAFNOSUPPORT):
		return []net.Listener{ln4}, nil
	}
	ln4.Close()
	return nil, err
}

func (b *bridge) servePublished(ln net.Listener, c *connector, port int) {
	defer b.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		if !b.track(conn) {
			conn.Close()
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer b.untrack(conn)
			in, err := c.dial(port)
			if err != nil {
				b.logger.Debug("publish: sandbox port unreachable", "port", port, "err", err)
				return
			}
			if !b.track(in) {
				in.Close()
				return
			}
			defer b.untrack(in)
			netinside.Join(conn.(*net.TCPConn), in)
		}()
	}
}
