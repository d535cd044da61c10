//go:build linux

package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// runObserver evaluates the observer filter on a call with the given
// arguments.
func runObserver(t *testing.T, opts ObserverOptions, nr uint32, args ...uint32) uint32 {
	t.Helper()
	raw, err := ObserverProgram(opts)
	if err != nil {
		t.Fatal(err)
	}
	arch, _ := nativeArch()
	return runProgram(t, raw, arch, nr, args...)
}

// TestObserverGuard: with the guard, every name-making call reaches the
// supervisor (mknod included) and openat2, whose flags the supervisor
// could not trust, fails with ENOSYS; without it, neither changes.
func TestObserverGuard(t *testing.T) {
	notify := uint32(unix.SECCOMP_RET_USER_NOTIF)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	for _, c := range []struct {
		name  string
		guard bool
		nr    uint32
		args  []uint32
		want  uint32
	}{
		{"openat O_CREAT", true, unix.SYS_OPENAT, []uint32{0, 0, unix.O_CREAT}, notify},
		{"openat read", true, unix.SYS_OPENAT, []uint32{0, 0, unix.O_RDONLY}, allow},
		{"mknodat guarded", true, unix.SYS_MKNODAT, nil, notify},
		{"mknodat", false, unix.SYS_MKNODAT, nil, allow},
		{"openat2 guarded", true, unix.SYS_OPENAT2, nil, enosys},
		{"openat2", false, unix.SYS_OPENAT2, nil, allow},
		{"rename", false, unix.SYS_RENAMEAT2, nil, notify},
		{"read", true, unix.SYS_READ, nil, allow},
	} {
		if got := runObserver(t, ObserverOptions{Guard: c.guard}, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}
