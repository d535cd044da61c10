//go:build linux

package probe

import (
	"fmt"

	"github.com/cordon-dev/cordon/sandbox/landlock"
)

func landlockCheck() Check {
	abi := landlock.ABI()
	if abi < 1 {
		return Check{Name: "landlock", Detail: "not available in this kernel",
			Fix: "optional: a kernel ≥ 5.13 with lsm=landlock adds a second layer under bwrap (runs go on without it)"}
	}
	return Check{Name: "landlock", OK: true, Detail: fmt.Sprintf("ABI %d: the filesystem policy is enforced again under bwrap's mounts", abi)}
}
