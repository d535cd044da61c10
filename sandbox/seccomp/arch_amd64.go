//go:build linux && amd64

package seccomp

import "golang.org/x/sys/unix"

const x32Bit = 0x40000000

func nativeArch() (uint32, bool) { return unix.AUDIT_ARCH_X86_64, true }
