//go:build linux

package landlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's structures (linux/landlock.h). x/sys has the ruleset
// attribute with fields newer than this machine's kernel knows, and no
// net-port rule: define the sizes cordon uses.
type rulesetAttr struct {
	handledFS, handledNet, scoped uint64
}

type pathBeneathAttr struct { // __attribute__((packed)) in the kernel
	allowed uint64
	fd      int32
}

const sizeofPathBeneath = 12

type netPortAttr struct {
	allowed uint64
	port    uint64
}

const ruleNetPort = 2

// ABI is the Landlock ABI version of the running kernel, 0 when it has
// none (before 5.13, or the LSM not enabled).
func ABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

// Status is what Restrict put in force.
type Status struct {
	ABI     int  // 0: no Landlock layer
	Connect bool // TCP connect limited
	Scoped  bool // signals and abstract unix sockets scoped
}

// ErrUnsupported is returned (wrapped) when Rules.Require is set and the
// kernel cannot enforce the rules.
var ErrUnsupported = errors.New("landlock: not supported by this kernel")

// Restrict enforces r on the calling thread and what it execs from now
// on. The caller must have locked the thread (runtime.LockOSThread) and
// exec from it: Landlock applies to one thread (this kernel has no TSYNC).
// Without Landlock it returns a zero Status and no error, unless
// r.Require.
func Restrict(r Rules) (Status, error) {
	if err := r.Validate(); err != nil {
		return Status{}, err
	}
	abi := ABI()
	st := Status{ABI: abi}
	if abi < 1 {
		if r.Require {
			return Status{}, fmt.Errorf("%w: no Landlock (a kernel ≥ 5.13 with lsm=landlock is needed)", ErrUnsupported)
		}
		return Status{}, nil
	}
	attr := rulesetAttr{handledFS: handledFS(abi)}
	size := unsafe.Sizeof(attr.handledFS)
	if abi >= 4 {
		size += unsafe.Sizeof(attr.handledNet)
		if r.LimitConnect {
			attr.handledNet, st.Connect = netConnectTCP, true
		}
	} else if r.LimitConnect && r.Require {
		return Status{}, fmt.Errorf("%w: limiting TCP connect needs Landlock ABI 4, this kernel has %d", ErrUnsupported, abi)
	}
	if abi >= 6 {
		size += unsafe.Sizeof(attr.scoped)
		if r.Scope {
			attr.scoped, st.Scoped = scopeAbstractUnix|scopeSignal, true
		}
	} else if r.Scope && r.Require {
		return Status{}, fmt.Errorf("%w: scoping signals and abstract sockets needs Landlock ABI 6, this kernel has %d", ErrUnsupported, abi)
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if e != 0 {
		return Status{}, fmt.Errorf("landlock: ruleset: %w", e)
	}
	b := &builder{ruleset: int(fd), abi: abi}
	defer unix.Close(b.ruleset)

	deny := resolved(r.ReadDeny)
	if err := b.grantRead("/", deny); err != nil {
		return Status{}, err
	}
	for _, a := range r.ReadAllow {
		if err := b.addPath(a, readRights, true, false); err != nil {
			return Status{}, err
		}
	}
	for _, m := range r.Masks {
		if err := b.addMask(m); err != nil {
			return Status{}, err
		}
	}
	for _, w := range r.Writable {
		if err := b.addPath(w, writeRights(abi, r.Sockets), true, false); err != nil {
			return Status{}, err
		}
	}
	for _, f := range r.WriteFiles {
		if err := b.addPath(f, fileWriteRights(abi), true, false); err != nil {
			return Status{}, err
		}
	}
	for _, split := range []struct {
		paths  []string
		rights uint64
	}{{r.SplitDirs, writeRights(abi, r.Sockets)}, {r.FileZones, fileWriteRights(abi)}, {r.SplitFiles, fileWriteRights(abi)}} {
		for _, p := range split.paths {
			if err := b.addLinkFree(p, split.rights); err != nil {
				return Status{}, err
			}
		}
	}
	if st.Connect {
		for _, port := range r.ConnectPorts {
			a := netPortAttr{allowed: netConnectTCP, port: uint64(port)}
			if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, ruleNetPort, uintptr(unsafe.Pointer(&a)), 0, 0, 0); e != 0 {
				return Status{}, fmt.Errorf("landlock: connect rule for port %d: %w", port, e)
			}
		}
	}
	// Unprivileged callers need no_new_privs (bwrap has set it already).
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return Status{}, fmt.Errorf("landlock: no_new_privs: %w", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return Status{}, fmt.Errorf("landlock: restrict: %w", e)
	}
	return st, nil
}

type builder struct {
	ruleset int
	abi     int
}

// fileRights are the rights the kernel accepts on a rule for a non-directory.
const fileRights = fsExecute | fsWriteFile | fsReadFile | fsTruncate | fsIoctlDev

// addPath grants rights on path's hierarchy. Missing paths are skipped
// when optional. nofollow: a symbolic link is skipped (the rule would
// attach to its target, which the caller has not judged).
func (b *builder) addPath(path string, rights uint64, optional, nofollow bool) error {
	flags := unix.O_PATH | unix.O_CLOEXEC
	if nofollow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		if optional && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EACCES)) {
			return nil
		}
		return fmt.Errorf("landlock: %s: %w", path, err)
	}
	defer unix.Close(fd)
	return b.addFD(fd, path, rights)
}

// addFD adds the rule for the opened path fd: rights trimmed to what the
// kernel accepts for its type; a symbolic link gets none.
func (b *builder) addFD(fd int, path string, rights uint64) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("landlock: %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return nil
	case unix.S_IFDIR:
	default:
		rights &= fileRights
	}
	rights &= handledFS(b.abi)
	if rights == 0 {
		return nil
	}
	a := pathBeneathAttr{allowed: rights, fd: int32(fd)}
	_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(b.ruleset), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&a)), 0, 0, 0)
	runtime.KeepAlive(a)
	if e != 0 {
		return fmt.Errorf("landlock: rule for %s: %w", path, e)
	}
	return nil
}

// addLinkFree grants rights on path's hierarchy, opened with no symbolic
// link in any component; a path that no longer opens that way (or is
// gone) is skipped: it is not the one the plan judged.
func (b *builder) addLinkFree(path string, rights uint64) error {
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EACCES) {
			return nil
		}
		return fmt.Errorf("landlock: %s: %w", path, err)
	}
	defer unix.Close(fd)
	return b.addFD(fd, path, rights)
}

// addMask grants reading m's hierarchy when m.Path is the mask's inode
// (a bind keeps its st_dev and st_ino). Any other inode there (the
// mounts off, a path not bound as planned) gets nothing: it stays
// unreadable, and its reads unreported.
func (b *builder) addMask(m Mask) error {
	fd, err := unix.Open(m.Path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil // gone, or not reachable: nothing to grant
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || uint64(st.Dev) != m.Dev || st.Ino != m.Ino {
		return nil
	}
	rights := uint64(readRights)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		rights &= fileRights
	}
	a := pathBeneathAttr{allowed: rights & handledFS(b.abi), fd: int32(fd)}
	_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(b.ruleset), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&a)), 0, 0, 0)
	runtime.KeepAlive(a)
	if e != 0 {
		return fmt.Errorf("landlock: rule for the mask of %s: %w", m.Path, e)
	}
	return nil
}

// grantRead grants reading dir's hierarchy minus the denied paths: whole
// where none lies below, else listing dir itself and the same for each
// entry in it. Symbolic links are skipped: reading through one is judged
// at its target.
func (b *builder) grantRead(dir string, deny []string) error {
	if denied(dir, deny) {
		return nil
	}
	if !onTheWay(dir, deny) {
		return b.addPath(dir, readRights, true, dir != "/")
	}
	if err := b.addPath(dir, dirRead, true, dir != "/"); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		// Unlistable (or gone): nothing below is granted, which fails
		// closed; the denied path is somewhere below.
		return nil
	}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink != 0 {
			continue
		}
		if err := b.grantRead(filepath.Join(dir, e.Name()), deny); err != nil {
			return err
		}
	}
	return nil
}

// resolved adds to paths the place each one's links lead, as seen from
// here: a denied ~/.ssh that is a link denies its target too.
func resolved(paths []string) []string {
	out := append([]string(nil), paths...)
	for _, p := range paths {
		if real, err := filepath.EvalSymlinks(p); err == nil && real != p {
			out = append(out, real)
		}
	}
	return out
}

// RestrictScope puts the calling thread (and what it execs) in a Landlock
// domain that restricts nothing but signals and abstract unix sockets:
// the outer domain of a run whose processes must be reachable together
// from it alone (see initstage.KeeperMain). It needs ABI 6.
func RestrictScope() error {
	if abi := ABI(); abi < 6 {
		return fmt.Errorf("%w: scoping signals needs Landlock ABI 6, this kernel has %d", ErrUnsupported, abi)
	}
	attr := rulesetAttr{scoped: scopeAbstractUnix | scopeSignal}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return fmt.Errorf("landlock: scope ruleset: %w", e)
	}
	defer unix.Close(int(fd))
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("landlock: no_new_privs: %w", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return fmt.Errorf("landlock: restrict: %w", e)
	}
	return nil
}
