//go:build linux

package netinside

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Host mode: the backend without namespaces (package hostns) runs the
// command in the host's network namespace, so nothing may continue to the
// kernel. Its filters (seccomp.Options.HostNetwork, ObserverOptions.NetConnect)
// leave the command TCP sockets only, hand every connect() and listen()
// here, and its Landlock ruleset refuses every TCP connect the command
// itself would make: each connection is made by the supervisor, on the
// command's own socket (taken with pidfd_getfd, judged by what it is, not
// by what the caller's memory says), to the run's capture listener on the
// host's loopback, whose other end is relayed to the proxy:
//
//   - the bridge address (the one the proxy variables name): the proxy
//     protocol itself, relayed as is;
//   - a socket this run listens on, on the loopback: connected directly
//     (servers a command starts for itself stay reachable to it);
//   - anything else: a SOCKS5 CONNECT to the address and port, asked of
//     the proxy first (a pool address by its name), so the proxy decides
//     on host, port and IP and a refusal is connect()'s ECONNREFUSED.
//
// listen() is made here too, on the loopback only: a socket bound to
// another address is refused, an unbound one is bound to the loopback
// first (the kernel would bind it to every address).

// hostState is what host mode keeps per run.
type hostState struct {
	listening map[uint64]bool // inodes of the sockets this run listens on
}

func (s *Supervisor) hostListeners() *hostState {
	if s.host == nil {
		s.host = &hostState{listening: map[uint64]bool{}}
	}
	return s.host
}

// handleHost answers one connect() or listen() notification in host mode.
func (s *Supervisor) handleHost(ctx context.Context, nfd int, n *Notif) {
	if n.Nr != unix.SYS_CONNECT && n.Nr != unix.SYS_LISTEN {
		s.respond(nfd, n.ID, unix.EPERM, false)
		return
	}
	sock, err := takeSocket(int(n.Pid), int(n.Args[0]))
	if err != nil {
		s.respond(nfd, n.ID, errnoOf(err, unix.EBADF), false)
		return
	}
	defer unix.Close(sock)
	dom, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		s.respond(nfd, n.ID, unix.ENOTSOCK, false)
		return
	}
	if n.Nr == unix.SYS_LISTEN {
		s.respond(nfd, n.ID, s.hostListen(sock, dom, int(int32(n.Args[1]))), false)
		return
	}
	if dom != unix.AF_INET && dom != unix.AF_INET6 {
		// Unix sockets are the observer's (allow_unix_sockets); one here
		// was put under the descriptor after it looked.
		s.respond(nfd, n.ID, unix.EACCES, false)
		return
	}
	dst, ok := readSockaddr(int(n.Pid), uintptr(n.Args[1]), int(n.Args[2]))
	if err := ioctlPtr(nfd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&n.ID)); err != nil {
		return // the caller is gone
	}
	if !ok {
		s.respond(nfd, n.ID, unix.EAFNOSUPPORT, false) // AF_UNSPEC, a short address: nothing to steer
		return
	}
	if typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		s.respond(nfd, n.ID, unix.EPERM, false)
		return
	}
	err = s.connectHost(ctx, sock, dst)
	if err != nil {
		s.Logger.Debug("netinside: host connect", "dst", dst, "err", err)
		s.respond(nfd, n.ID, errnoOf(err, unix.ECONNREFUSED), false)
		return
	}
	s.respond(nfd, n.ID, 0, false)
}

func (s *Supervisor) connectHost(ctx context.Context, sock int, dst netip.AddrPort) error {
	if s.Listener == nil || s.DialProxy == nil {
		return unix.ENETUNREACH // no network for this run
	}
	if dst == s.Bridge || (dst.Addr().IsLoopback() && s.Bridge.Addr().IsLoopback() && dst.Port() == s.Bridge.Port()) {
		far, err := s.pair(sock)
		if err != nil {
			return err
		}
		go s.relayProxy(ctx, far)
		return nil
	}
	if dst.Addr().IsLoopback() && s.ownListener(dst) {
		return connectAddr(sock, dst)
	}
	name, isPool := "", false
	if s.Pool != nil && s.Pool.Contains(dst.Addr()) {
		if name, isPool = s.Pool.Name(dst.Addr()); !isPool {
			return unix.ENETUNREACH
		}
	}
	switch {
	case isPool:
	case dst.Addr().IsLoopback():
		// The host's loopback, as a localhost:PORT rule names it (the
		// bwrap backend's mirrors ask the same): denied unless one does.
		name = "localhost"
	default:
		name = dst.Addr().String()
	}
	up, err := s.DialProxy(ctx)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if err := SOCKSConnect(ctx, up, name, int(dst.Port())); err != nil {
		up.Close()
		return unix.ECONNREFUSED
	}
	far, err := s.pair(sock)
	if err != nil {
		up.Close()
		return err
	}
	go func() {
		defer far.Close()
		defer up.Close()
		Join(far, up)
	}()
	return nil
}

// relayProxy carries one connection the command made to the bridge
// address: to Serve in process when set, else to the proxy's socket.
func (s *Supervisor) relayProxy(ctx context.Context, far *net.TCPConn) {
	if s.ServeProxy != nil {
		s.ServeProxy(far)
		return
	}
	defer far.Close()
	up, err := s.DialProxy(ctx)
	if err != nil {
		return
	}
	defer up.Close()
	Join(far, up)
}

// connectAddr connects sock to dst as the caller asked (an IPv4 address
// on an IPv6 socket mapped).
func connectAddr(sock int, dst netip.AddrPort) error {
	domain, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return err
	}
	var sa unix.Sockaddr
	switch {
	case domain == unix.AF_INET6:
		sa = &unix.SockaddrInet6{Addr: dst.Addr().As16(), Port: int(dst.Port())}
	case dst.Addr().Is4():
		sa = &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())}
	default:
		return unix.EAFNOSUPPORT
	}
	err = unix.Connect(sock, sa)
	if err == unix.EINPROGRESS {
		return err // a non-blocking socket: connect() says the same
	}
	return err
}

// hostListen lets sock listen, on the loopback only, and remembers it as
// this run's.
func (s *Supervisor) hostListen(sock, dom, backlog int) unix.Errno {
	if dom == unix.AF_UNIX {
		return errnoOf(unix.Listen(sock, backlog), 0)
	}
	if dom != unix.AF_INET && dom != unix.AF_INET6 {
		return unix.EOPNOTSUPP
	}
	sa, err := unix.Getsockname(sock)
	if err != nil {
		return errnoOf(err, unix.EINVAL)
	}
	var addr netip.Addr
	port := 0
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		addr, port = netip.AddrFrom4(a.Addr), a.Port
	case *unix.SockaddrInet6:
		addr, port = netip.AddrFrom16(a.Addr).Unmap(), a.Port
	default:
		return unix.EINVAL
	}
	switch {
	case port == 0:
		// Unbound: the kernel would bind every address. The loopback.
		var to unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
		if dom == unix.AF_INET6 {
			to = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
		}
		if err := unix.Bind(sock, to); err != nil {
			return errnoOf(err, unix.EADDRNOTAVAIL)
		}
	case !addr.IsLoopback():
		// A server on the host's other addresses would be reachable
		// from the network: refused, as every address but lo is
		// absent under the bwrap backend.
		return unix.EACCES
	}
	if err := unix.Listen(sock, backlog); err != nil {
		return errnoOf(err, unix.EINVAL)
	}
	var st unix.Stat_t
	if err := unix.Fstat(sock, &st); err == nil {
		s.hostMu.Lock()
		s.hostListeners().listening[st.Ino] = true
		s.hostMu.Unlock()
	}
	return 0
}

// ownListener reports whether the socket listening on the loopback at
// dst's port is one this run listens on (by inode, from /proc/net), so a
// host service is never reached this way.
func (s *Supervisor) ownListener(dst netip.AddrPort) bool {
	s.hostMu.Lock()
	h := s.hostListeners()
	own := make(map[uint64]bool, len(h.listening))
	for ino := range h.listening {
		own[ino] = true
	}
	s.hostMu.Unlock()
	if len(own) == 0 {
		return false
	}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if ino, ok := listeningInode(f, dst.Port()); ok && own[ino] {
			return true
		}
	}
	return false
}

// listeningInode finds the inode of the socket listening on the loopback
// (or every address) at port in a /proc/net/tcp table.
func listeningInode(table string, port uint16) (uint64, bool) {
	f, err := os.Open(table)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil || uint16(p) != port {
			continue
		}
		ino, err := strconv.ParseUint(fields[9], 10, 64)
		if err == nil {
			return ino, true
		}
	}
	return 0, false
}
