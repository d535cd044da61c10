//go:build linux

package initstage

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cordon-dev/cordon/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// installObserver loads the observer filter on this (locked) thread with
// a new listener, which the host supervises. Called right before the
// stage execs the command, on the thread that execs.
func installObserver(opts seccomp.ObserverOptions) (int, error) {
	raw, err := seccomp.ObserverProgram(opts)
	if err != nil {
		return -1, err
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// Once the supervisor has received a call, only a fatal signal may
	// interrupt the caller's wait: the supervisor performs some calls
	// itself (guard.go), and a call interrupted after that (Go programs
	// are signalled all the time) would be restarted and performed twice:
	// a rename answered "no such file", a mkdir that made its directory
	// answered "exists". Kernels before 5.19 refuse the flag.
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, uintptr(unsafe.Pointer(&prog)))
	if errno == unix.EINVAL {
		fd, _, errno = unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
	}
	runtime.KeepAlive(filter)
	if errno != 0 {
		return -1, fmt.Errorf("observer filter: %w", errno)
	}
	return int(fd), nil
}
