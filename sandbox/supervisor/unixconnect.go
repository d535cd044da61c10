//go:build linux

package supervisor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/netinside"
	"github.com/cordon-dev/cordon/workspace"
)

// allow_unix_sockets names the unix sockets a command may connect to, and
// nothing else. With it, the observer's filter hands every connect() here
// (seccomp.ObserverOptions.UnixConnect). The caller's socket is taken with
// pidfd_getfd and judged by what it is, not by what the caller's memory
// says: a unix socket is connected by the supervisor itself, through a
// descriptor it opened on the named socket (O_PATH, the last component no
// symbolic link), so the socket connected is the one checked; any other
// name is refused with EACCES and reported as a unix-socket violation. No
// connect() continues to the kernel on memory the caller could rewrite.

// unixConnect reports whether the policy names unix sockets.
func (o *Observer) unixConnect() bool {
	return o.judge != nil && o.judge.Policy != nil && len(o.judge.Policy.Network.AllowUnixSockets) > 0
}

// connect answers one connect() notification.
func (o *Observer) connect(ctx context.Context, n *netinside.Notif) {
	if !o.unixConnect() || n.Nr != unix.SYS_CONNECT {
		// listen() reaches here only in host mode (ObserverOptions.NetConnect).
		o.capture.Handle(ctx, o.fd, n)
		return
	}
	sock, err := netinside.TakeSocket(int(n.Pid), int(n.Args[0]))
	if err != nil {
		netinside.Respond(o.fd, n.ID, 0, unix.EBADF, false)
		return
	}
	defer unix.Close(sock)
	dom, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		netinside.Respond(o.fd, n.ID, 0, unix.ENOTSOCK, false)
		return
	}
	if dom != unix.AF_UNIX {
		if o.capture != nil {
			o.capture.Handle(ctx, o.fd, n) // NoContinue: it connects by itself too
			return
		}
		sa, err := netinside.ReadSockaddr(int(n.Pid), uintptr(n.Args[1]), int(n.Args[2]))
		if err != nil {
			netinside.Respond(o.fd, n.ID, 0, unix.EFAULT, false)
			return
		}
		netinside.Respond(o.fd, n.ID, 0, netinside.ConnectRaw(sock, sa), false)
		return
	}
	sa, err := netinside.ReadSockaddr(int(n.Pid), uintptr(n.Args[1]), int(n.Args[2]))
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(o.fd), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&n.ID))); errno != 0 {
		return // the caller is gone: its pid may name another process now
	}
	if err != nil || len(sa) < 3 || int(sa[0])|int(sa[1])<<8 != unix.AF_UNIX {
		netinside.Respond(o.fd, n.ID, 0, unix.EINVAL, false)
		return
	}
	name := sa[2:]
	if i := bytes.IndexByte(name, 0); i == 0 {
		o.refuseUnix(n, "@"+string(bytes.TrimRight(name[1:], "\x00")))
		return
	} else if i > 0 {
		name = name[:i]
	}
	path := string(name)
	if !filepath.IsAbs(path) {
		cwd, err := os.Readlink("/proc/" + strconv.Itoa(int(n.Pid)) + "/cwd")
		if err != nil {
			netinside.Respond(o.fd, n.ID, 0, unix.EACCES, false)
			return
		}
		path = filepath.Join(cwd, path)
	}
	path = filepath.Clean(path)
	if !o.allowedSocket(path) {
		// Nothing there as the caller sees it (glibc asks for nscd's
		// socket in every process): what connect() would say, and no
		// report, since nothing was kept from it.
		if _, err := os.Lstat("/proc/" + strconv.Itoa(int(n.Pid)) + "/root" + path); err != nil {
			netinside.Respond(o.fd, n.ID, 0, unix.ENOENT, false)
			return
		}
		o.refuseUnix(n, path)
		return
	}
	netinside.Respond(o.fd, n.ID, 0, connectNamed(sock, path), false)
}

func (o *Observer) allowedSocket(path string) bool {
	for _, r := range o.judge.Policy.Network.AllowUnixSockets {
		if r.Path == path {
			return true
		}
	}
	return false
}

func (o *Observer) refuseUnix(n *netinside.Notif, target string) {
	netinside.Respond(o.fd, n.ID, 0, unix.EACCES, false)
	o.report(sandbox.Violation{Kind: sandbox.KindUnixSocket, Target: target, Rule: workspace.Source{}})
}

// connectNamed connects sock to the socket at path, through a descriptor
// of the socket file itself: a symbolic link put in its place is not
// followed, and what is connected is a socket.
func connectNamed(sock int, path string) unix.Errno {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return unix.ECONNREFUSED
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return unix.ECONNREFUSED
	}
	err = unix.Connect(sock, &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(fd)})
	if err == nil {
		return 0
	}
	if errno, ok := err.(unix.Errno); ok {
		return errno
	}
	return unix.ECONNREFUSED
}
