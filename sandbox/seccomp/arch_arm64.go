//go:build linux && arm64

package seccomp

import "golang.org/x/sys/unix"

const x32Bit = 0

func nativeArch() (uint32, bool) { return unix.AUDIT_ARCH_AARCH64, true }

// legacyModeCalls: arm64 has only the *at forms.
func legacyModeCalls() map[string]ModeCall { return nil }
