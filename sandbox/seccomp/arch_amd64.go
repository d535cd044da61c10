//go:build linux && amd64

package seccomp

import "golang.org/x/sys/unix"

const x32Bit = 0x40000000

func nativeArch() (uint32, bool) { return unix.AUDIT_ARCH_X86_64, true }

// legacyModeCalls are this ABI's older forms of the ModeCalls.
func legacyModeCalls() map[string]ModeCall {
	return map[string]ModeCall{
		"chmod": {unix.SYS_CHMOD, -1, 1}, "creat": {unix.SYS_CREAT, -1, 1},
		"open": {unix.SYS_OPEN, 1, 2}, "mknod": {unix.SYS_MKNOD, -1, 1}, "mkdir": {unix.SYS_MKDIR, -1, 1},
	}
}
