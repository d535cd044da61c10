//go:build linux

package initstage

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// forbidSocketNames makes bind() of a pathname unix socket fail with
// EACCES for this thread and what it execs, through a Landlock ruleset
// that handles making sockets and allows it nowhere. Seccomp cannot see
// a socket's family or the name in bind's address, and a stream
// socketpair end (which seccomp lets through) can still bind a name: a
// file in the workspace that no observer sees made.
//
// Without Landlock (kernels before 5.13, or the LSM left out) it returns
// nil and leaves bind alone: such a name can be made but not connected to
// (the socket is connected already and cannot listen), so running without
// this layer exposes nothing; refusing every run there would be worse.
func forbidSocketNames() error {
	attr := unix.LandlockRulesetAttr{Handled_access_fs: unix.LANDLOCK_ACCESS_FS_MAKE_SOCK}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	switch {
	case e == unix.ENOSYS || e == unix.EOPNOTSUPP:
		return nil
	case e != 0:
		return errors.Join(errors.New("landlock ruleset"), e)
	}
	defer unix.Close(int(fd))
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return errors.Join(errors.New("landlock restrict"), e)
	}
	return nil
}
