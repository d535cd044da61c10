//go:build linux

package linux

import (
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
)

// landlockRules is the plan's filesystem policy as the second layer the
// init stage enforces under the mounts: writes only in the writable
// places (workspace folders, allow_write, the private temp dir, the cache
// layers) and the devices, reads refused under the hidden paths, no
// pathname unix socket made unless the policy allows unix sockets, no
// signal or abstract socket out of the sandbox.
//
// What Landlock cannot express is left to the mounts alone: the
// read-only paths inside writable places (deny_write, the protected
// names: Landlock grants by hierarchy and cannot take a name out of a
// writable directory), and deny_read paths inside a writable place
// (granting their siblings would make every name made later beside them
// unreadable). TCP connect is not limited under bwrap: the namespace
// has only lo (which the stage checks), and servers a command starts for
// itself on its loopback must stay reachable (DESIGN), on ports nobody
// knows in advance.
func (pl *plan) landlockRules(p *workspace.Policy) landlock.Rules {
	// The judge is the supervisor's view of the same plan: one list of
	// the writable places (the cache layers and the temp dir included).
	j := pl.judge(p)
	writable := append(append([]string(nil), j.Writable...), j.TempDir)
	r := landlock.Rules{
		Writable: dedupe(writable),
		Sockets:  len(p.Network.AllowUnixSockets) > 0,
		Scope:    true,
	}
	for _, h := range j.Hidden {
		if !supervisor.UnderAny(h, writable) {
			r.ReadDeny = append(r.ReadDeny, h)
		}
	}
	for _, a := range pl.Reopened {
		if !supervisor.UnderAny(a, writable) {
			r.ReadAllow = append(r.ReadAllow, a)
		}
	}
	// A writable place inside a hidden one (the run's temp dir inside
	// cordon's runtime dir) is bound back over it: readable as well.
	for _, w := range writable {
		if supervisor.UnderAny(w, r.ReadDeny) {
			r.ReadAllow = append(r.ReadAllow, w)
		}
	}
	r.ReadAllow = dedupe(r.ReadAllow)
	// The sandbox's own /proc is bwrap's, writable under the mounts too
	// (the kernel's own checks decide there: oom_score_adj of one's own
	// processes, say): the same here.
	r.WriteFiles = append(r.WriteFiles, "/proc")
	return r.WithDevices()
}

// Layers names what every run of this backend has in force here: the
// namespaces and mounts, the seccomp filter and, where the kernel has
// it, the Landlock layer (the init stage applies it whenever ABI() is
// above 0, so this and the runs agree).
func (b *Backend) Layers() []string {
	layers := []string{"bwrap", "seccomp"}
	if abi := landlock.ABI(); abi > 0 && !b.test.noLandlock {
		layers = append(layers, landlock.Layer(abi))
	}
	return layers
}

var _ sandbox.Layered = (*Backend)(nil)
