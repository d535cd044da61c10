//go:build linux

package linux

import (
	"sort"
	"strconv"

	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
)

// argvOptions is what bwrapArgs needs besides the plan.
type argvOptions struct {
	Dir    string // working directory inside
	Init   string // the in-sandbox init stage: its image or the cordon binary
	Hidden string // an empty file nobody can read, bound over deny_read files without a mask
	// Masks are the run's masks of the hidden paths (nil: none; a hidden
	// file is then covered by Hidden, a directory by an empty tmpfs).
	Masks   *supervisor.Masks
	Runtime string // cordon's runtime dir: hidden inside but for the run's own temp dir
	// UID and GID, when Layers is set: the ids the command keeps inside,
	// since bwrap then starts as root of cordon's layer namespace.
	UID, GID   int
	Layers     bool
	InitConfig string // the init's encoded configuration
	// PinFDs are bwrap's descriptors for Pinned directories and for
	// writable places inside other writable places (see openPins); one
	// without is bound by path.
	PinFDs map[string]int
	Argv   []string
	// NoMounts (tests only): / is bound writable and nothing is hidden or
	// made read-only, so that a test sees the Landlock layer alone.
	NoMounts bool
}

// bwrapArgs renders the plan as bubblewrap arguments. The order matters:
// bwrap applies mounts in argument order, so later binds cover earlier ones.
func bwrapArgs(pl *plan, o argvOptions) []string {
	a := []string{
		// No privilege inside, even when cordon runs as root.
		"--unshare-user",
	}
	if o.Layers {
		a = append(a, "--uid", strconv.Itoa(o.UID), "--gid", strconv.Itoa(o.GID))
	}
	a = append(a, "--cap-drop", "ALL", "--disable-userns",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--unshare-net",
		"--new-session", "--die-with-parent",
		"--seccomp", strconv.Itoa(initstage.FDSeccomp))
	if o.NoMounts {
		a = append(a, "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc")
		a = append(a, "--chdir", o.Dir, "--", o.Init, initstage.Arg, o.InitConfig, "--")
		return append(a, o.Argv...)
	}
	a = append(a, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc")
	if pl.PrivateTmp != "" {
		a = append(a, "--bind", pl.PrivateTmp, "/tmp")
		for _, e := range pl.TmpExposed {
			a = append(a, "--ro-bind", e, e)
		}
	}
	for _, l := range pl.Layers {
		a = append(a, "--bind", l.Path, l.Path)
	}
	for _, w := range pl.Writable {
		if fd, ok := o.PinFDs[w]; ok {
			a = append(a, "--bind-fd", strconv.Itoa(fd), w)
		} else {
			a = append(a, "--bind", w, w)
		}
	}
	for _, p := range pl.Pinned {
		if fd, ok := o.PinFDs[p]; ok {
			a = append(a, "--bind-fd", strconv.Itoa(fd), p)
		} else {
			a = append(a, "--bind", p, p)
		}
	}
	if o.Runtime != "" && (pl.PrivateTmp == "" || !supervisor.Within("/tmp", o.Runtime) || supervisor.UnderAny(o.Runtime, pl.TmpExposed)) {
		// Other workspaces' temp dirs live there: an empty tmpfs over it
		// (after the writable binds, which may contain it), then the run's
		// own temp dir back.
		a = append(a, "--tmpfs", o.Runtime)
		if pl.TempDir != "" && supervisor.Within(o.Runtime, pl.TempDir) {
			a = append(a, "--bind", pl.TempDir, pl.TempDir)
		}
	}
	ro := append([]string{}, pl.ReadOnly...)
	sort.Strings(ro) // parents before children
	for _, p := range ro {
		a = append(a, "--ro-bind", p, p)
	}
	for _, f := range pl.HiddenFiles {
		src, ok := o.Masks.Source(f)
		if !ok {
			src = o.Hidden
		}
		a = append(a, "--ro-bind", src, f)
	}
	for _, d := range pl.HiddenDirs {
		// The run's own temp dir may lie in a hidden one (cordon's
		// runtime dir is in the credential set): bound back, writable.
		temp := pl.TempDir != "" && supervisor.Within(d, pl.TempDir) && d != pl.TempDir
		mask, masked := o.Masks.Source(d)
		if masked {
			// Read-only, holding the mount points of what follows.
			a = append(a, "--ro-bind", mask, d)
		} else {
			perms := "0000"
			if temp || len(pl.boundBackInto(d)) > 0 {
				perms = "0111" // traversable to the re-opened paths, not listable
			}
			a = append(a, "--perms", perms, "--tmpfs", d)
		}
		if temp {
			a = append(a, "--bind", pl.TempDir, pl.TempDir)
		}
		for _, r := range pl.Reopened {
			if supervisor.Within(d, r) {
				a = append(a, "--ro-bind", r, r)
			}
		}
		if !masked {
			a = append(a, "--remount-ro", d)
		}
	}
	for _, r := range pl.Reopened {
		if contains(pl.HiddenFiles, r) {
			a = append(a, "--ro-bind", r, r)
		}
	}
	a = append(a, "--chdir", o.Dir, "--", o.Init, initstage.Arg, o.InitConfig, "--")
	return append(a, o.Argv...)
}
