//go:build linux

package probe

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func landlock() Check {
	// landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
	// returns the ABI version without creating anything.
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return Check{Name: "landlock", Detail: "not available: " + errno.Error(),
			Fix: "optional: a kernel ≥ 5.13 with lsm=landlock adds a second enforcement layer"}
	}
	return Check{Name: "landlock", OK: true, Detail: fmt.Sprintf("ABI %d", abi)}
}
