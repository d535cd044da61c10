//go:build linux

package netinside

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// With allow_unix_sockets a connect() may never continue to the kernel on
// the caller's memory: between the supervisor's look and the kernel's, the
// caller could rewrite the address or put another socket under the same
// descriptor. So the supervisor connects the caller's own socket (a
// duplicate taken with pidfd_getfd: the same socket, in the sandbox's
// network namespace) to the address it read, once.

// TakeSocket duplicates descriptor fd of thread tid into this process.
func TakeSocket(tid, fd int) (int, error) { return takeSocket(tid, fd) }

// maxSockaddr is sizeof(struct sockaddr_storage).
const maxSockaddr = 128

// ReadSockaddr reads n bytes of a connect() address from the caller's
// memory, once.
func ReadSockaddr(pid int, addr uintptr, n int) ([]byte, error) {
	if n <= 0 || n > maxSockaddr {
		return nil, unix.EINVAL
	}
	buf := make([]byte, n)
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(n)}}
	remote := []unix.RemoteIovec{{Base: addr, Len: n}}
	got, err := unix.ProcessVMReadv(pid, local, remote, 0)
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, unix.EFAULT
	}
	return buf, nil
}

// ConnectRaw connects sock to the address sa as connect(2) would, and
// returns its errno (0: connected).
func ConnectRaw(sock int, sa []byte) unix.Errno {
	if len(sa) == 0 {
		return unix.EINVAL
	}
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(sock), uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa)))
	return errno
}

// proceed lets a connect() that is not the capture's happen: it continues
// to the kernel, or, with NoContinue, is made here on the caller's socket
// with the address as read now.
func (s *Supervisor) proceed(nfd int, n *Notif) {
	if !s.NoContinue {
		s.respond(nfd, n.ID, 0, true)
		return
	}
	sock, err := takeSocket(int(n.Pid), int(n.Args[0]))
	if err != nil {
		s.respond(nfd, n.ID, errnoOf(err, unix.EBADF), false)
		return
	}
	defer unix.Close(sock)
	if dom, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom == unix.AF_UNIX {
		// Unix sockets are the observer's to connect (by name, to a
		// named socket only); one here was put under the descriptor
		// after the observer looked.
		s.respond(nfd, n.ID, unix.EACCES, false)
		return
	}
	sa, err := ReadSockaddr(int(n.Pid), uintptr(n.Args[1]), int(n.Args[2]))
	if err != nil {
		s.respond(nfd, n.ID, errnoOf(err, unix.EFAULT), false)
		return
	}
	_ = Respond(nfd, n.ID, 0, ConnectRaw(sock, sa), false)
}

func errnoOf(err error, def unix.Errno) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	return def
}
