//go:build linux

package netinside

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The connect() capture of issue 3 bullet 6. Inside the sandbox the init
// installs a seccomp filter that sends every connect() with an IP address
// to a supervisor on the host (InstallConnectFilter). For a TCP connect to
// a pool address the supervisor asks the proxy for the pool name and port
// and, once granted, connects the program's own socket (a duplicate taken
// with pidfd_getfd) to a capture listener on the sandbox's loopback and
// splices what it accepts there to the granted tunnel; a UDP connect to
// port 53 is connected to the pool's DNS responder on the sandbox's
// loopback the same way; every other connect() proceeds (the namespace
// has only lo). The program's sockets never leave its network namespace,
// so re-connecting one (AF_UNSPEC, sendto on UDP) reaches nothing new.
// Reading the address is racy by nature (the program can rewrite it after
// we read it); that only chooses which of its destinations it gets, each
// still decided by the proxy.

// Notif is struct seccomp_notif (linux/seccomp.h), flattened; x/sys has
// the constants only. A supervisor that already owns the run's seccomp
// listener (there can be only one per process) passes the connect()
// notifications it receives to Supervisor.Handle.
type Notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type seccompNotifAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

func nativeArch() (uint32, error) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, nil
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, nil
	}
	return 0, fmt.Errorf("netinside: connect capture not built for %s", runtime.GOARCH)
}

// InstallConnectFilter installs, for every thread of the calling process,
// a seccomp filter that notifies a listener of each connect() whose
// address is a sockaddr_in or sockaddr_in6, and returns that listener.
// no_new_privs must be set (bwrap sets it). The filter survives exec.
func InstallConnectFilter() (*os.File, error) {
	arch, err := nativeArch()
	if err != nil {
		return nil, err
	}
	const (
		ldW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK  = unix.BPF_RET | unix.BPF_K
		argsL = 16 + 2*8 // seccomp_data.args[2], low half (little endian)
	)
	prog := []unix.SockFilter{
		{Code: ldW, K: 4},                            // 0 arch
		{Code: jeqK, K: arch, Jt: 0, Jf: 5},          // 1 other ABIs: not ours (the sandbox's filter handles them)
		{Code: ldW, K: 0},                            // 2 nr
		{Code: jeqK, K: unix.SYS_CONNECT, Jf: 3},     // 3
		{Code: ldW, K: argsL},                        // 4 addrlen
		{Code: jeqK, K: 16, Jt: 2},                   // 5 sockaddr_in
		{Code: jeqK, K: 28, Jt: 1},                   // 6 sockaddr_in6
		{Code: retK, K: unix.SECCOMP_RET_ALLOW},      // 7
		{Code: retK, K: unix.SECCOMP_RET_USER_NOTIF}, // 8
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH)
	// A connect the supervisor has made must not be made again by a
	// restart after a signal: see initstage's installObserver.
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, uintptr(unsafe.Pointer(&fprog)))
	if errno == unix.EINVAL {
		fd, _, errno = unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	}
	runtime.KeepAlive(prog)
	if errno != 0 {
		return nil, fmt.Errorf("netinside: seccomp connect filter: %w", errno)
	}
	return os.NewFile(fd, "seccomp-notify"), nil
}

// Supervisor answers the connect notifications of one run.
type Supervisor struct {
	Pool *Pool
	// DialProxy opens a stream to the run's proxy.
	DialProxy func(context.Context) (*net.UnixConn, error)
	// Listener is the capture listener on the sandbox's loopback (made
	// inside by the init and handed over); Serve accepts on it.
	Listener *net.TCPListener
	// DNS is where Pool.ServeDNS answers on the sandbox's loopback.
	DNS    netip.AddrPort
	Logger *slog.Logger
	// NoContinue: a connect() that is not the capture's is made by the
	// supervisor on the caller's socket, never continued (see proceed).
	NoContinue bool
	// Host: the command shares the host's network namespace (see
	// hostnet_linux.go); every connect() and listen() is made here, none
	// continues. Bridge is the address the proxy variables name, ServeProxy
	// (optional) takes the connections made to it in process.
	Host       bool
	Bridge     netip.AddrPort
	ServeProxy func(net.Conn)

	mu     sync.Mutex // one connect+accept pair on Listener at a time
	hostMu sync.Mutex
	host   *hostState
}

// Serve handles notifications on listener until ctx ends or every
// process under the filter is gone. It closes listener.
func (s *Supervisor) Serve(ctx context.Context, listener *os.File) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	defer listener.Close()
	if s.Listener == nil || s.Pool == nil || s.DialProxy == nil {
		return errors.New("netinside: supervisor needs a pool, a proxy and a capture listener")
	}
	defer s.Listener.Close()
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(wake)
	stop := context.AfterFunc(ctx, func() { _, _ = unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0}) })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	fd := int(listener.Fd())
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		if pfd[1].Revents != 0 || ctx.Err() != nil {
			return nil
		}
		if pfd[0].Revents&unix.POLLHUP != 0 {
			return nil // every process under the filter has exited
		}
		var n Notif
		if err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOENT) {
				continue // the caller went away meanwhile
			}
			return fmt.Errorf("netinside: seccomp receive: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Handle(ctx, fd, &n)
		}()
	}
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
	if errno != 0 {
		return errno
	}
	return nil
}

func (s *Supervisor) respond(fd int, id uint64, errno unix.Errno, cont bool) {
	_ = Respond(fd, id, 0, errno, cont)
}

// Respond answers notification id on the seccomp listener fd: let the
// call continue to the kernel (cont), fail it with errno, or complete it
// with the result val.
func Respond(fd int, id uint64, val int64, errno unix.Errno, cont bool) error {
	r := seccompNotifResp{ID: id, Val: val}
	if cont {
		r.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	} else if errno != 0 {
		r.Error = -int32(errno)
	}
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// RespondFD answers notification id by installing the descriptor src in
// the caller, whose call returns the new descriptor's number.
func RespondFD(fd int, id uint64, src int, cloexec bool) error {
	a := seccompNotifAddfd{ID: id, Flags: unix.SECCOMP_ADDFD_FLAG_SEND, Srcfd: uint32(src)}
	if cloexec {
		a.NewfdFlags = unix.O_CLOEXEC
	}
	// The kernel marks the call answered before it waits for the caller
	// to install the descriptor, and an ADDFD whose wait a signal
	// interrupts (Go signals its threads all the time) takes the
	// descriptor back without undoing that: the caller's call returns 0,
	// and its open "succeeds" with its standard input. So no signal may
	// reach this thread while it waits.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err != nil {
		return fmt.Errorf("holding signals off: %w", err)
	}
	err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_ADDFD, unsafe.Pointer(&a))
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return err
}

// Handle answers one connect() notification received on the seccomp
// listener nfd: it always responds (capture, refusal or continue). It
// blocks while the proxy decides, so call it on its own goroutine.
// Notifications for other system calls are let through untouched.
func (s *Supervisor) Handle(ctx context.Context, nfd int, n *Notif) {
	if s.Host {
		s.handleHost(ctx, nfd, n)
		return
	}
	if n.Nr != unix.SYS_CONNECT {
		s.respond(nfd, n.ID, 0, true)
		return
	}
	dst, ok := readSockaddr(int(n.Pid), uintptr(n.Args[1]), int(n.Args[2]))
	// The pid is only meaningful while the notification is pending.
	if err := ioctlPtr(nfd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&n.ID)); err != nil {
		return
	}
	if !ok {
		s.proceed(nfd, n)
		return
	}
	if (s.Pool == nil || !s.Pool.Contains(dst.Addr())) && dst.Port() != 53 {
		s.proceed(nfd, n) // not ours: the namespace has only lo
		return
	}
	target := int(n.Args[0])
	sock, err := takeSocket(int(n.Pid), target)
	if err != nil {
		// Fail closed: a destination we must steer is never let through.
		s.Logger.Debug("netinside: capture: socket", "dst", dst, "err", err)
		s.respond(nfd, n.ID, unix.ECONNREFUSED, false)
		return
	}
	defer unix.Close(sock)
	typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		s.respond(nfd, n.ID, unix.ECONNREFUSED, false)
		return
	}
	switch {
	case typ == unix.SOCK_STREAM && s.Pool != nil && s.Pool.Contains(dst.Addr()):
		err = s.captureTCP(ctx, sock, dst)
	case typ == unix.SOCK_DGRAM && dst.Port() == 53 && s.DNS.IsValid():
		err = connectTo(sock, s.DNS)
	default:
		err = unix.ECONNREFUSED
	}
	if err != nil {
		s.Logger.Debug("netinside: capture", "dst", dst, "err", err)
		errno, ok := err.(unix.Errno)
		if !ok || errno == 0 {
			errno = unix.ECONNREFUSED
		}
		s.respond(nfd, n.ID, errno, false)
		return
	}
	s.respond(nfd, n.ID, 0, false) // connect() returns 0: connected
}

// captureTCP asks the proxy for dst's name and port first, so a refusal
// is connect()'s ECONNREFUSED; once granted it connects sock (the
// program's socket) to the capture listener and splices the accepted end
// to the tunnel. connect() blocks meanwhile, even on a non-blocking
// socket (an approval may take a while).
func (s *Supervisor) captureTCP(ctx context.Context, sock int, dst netip.AddrPort) error {
	if s.Listener == nil || s.DialProxy == nil {
		return unix.ECONNREFUSED // not set up: fail closed
	}
	name, ok := s.Pool.Name(dst.Addr())
	if !ok {
		return unix.ENETUNREACH // a pool address never given out
	}
	up, err := s.DialProxy(ctx)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if err := SOCKSConnect(ctx, up, name, int(dst.Port())); err != nil {
		up.Close()
		return err
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

// pair connects sock to the capture listener and returns the accepted end.
func (s *Supervisor) pair(sock int) (*net.TCPConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := connectTo(sock, s.Listener.Addr().(*net.TCPAddr).AddrPort()); err != nil && err != unix.EINPROGRESS {
		return nil, err
	}
	local, err := unix.Getsockname(sock)
	if err != nil {
		return nil, err
	}
	_ = s.Listener.SetDeadline(time.Now().Add(5 * time.Second))
	defer s.Listener.SetDeadline(time.Time{})
	for {
		far, err := s.Listener.AcceptTCP()
		if err != nil {
			return nil, err
		}
		// Only the connection we just made; anything else (the program
		// dialling the listener's port itself) is dropped.
		if samePort(far.RemoteAddr().(*net.TCPAddr).Port, local) {
			return far, nil
		}
		far.Close()
	}
}

func samePort(port int, sa unix.Sockaddr) bool {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port == port
	case *unix.SockaddrInet6:
		return a.Port == port
	}
	return false
}

// connectTo connects sock (of either IP family) to an IPv4 address.
func connectTo(sock int, to netip.AddrPort) error {
	domain, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return err
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())}
	if domain == unix.AF_INET6 {
		sa = &unix.SockaddrInet6{Addr: netip.AddrFrom16(to.Addr().As16()).As16(), Port: int(to.Port())}
	}
	return unix.Connect(sock, sa)
}

// takeSocket duplicates descriptor fd of thread tid into this process.
func takeSocket(tid, fd int) (int, error) {
	// The notification names a thread; pidfd_open wants its process.
	status, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return -1, err
	}
	tgid := 0
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			tgid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	pidfd, err := unix.PidfdOpen(tgid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}

// readSockaddr reads the connect() address from the caller's memory.
func readSockaddr(pid int, addr uintptr, n int) (netip.AddrPort, bool) {
	if n != 16 && n != 28 {
		return netip.AddrPort{}, false
	}
	buf := make([]byte, n)
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(n)}}
	remote := []unix.RemoteIovec{{Base: addr, Len: n}}
	if got, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil || got != n {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(buf[2:4])
	switch binary.LittleEndian.Uint16(buf[0:2]) {
	case unix.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(buf[4:8])), port), true
	case unix.AF_INET6:
		if n < 24 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(buf[8:24])).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}
