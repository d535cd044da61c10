//go:build linux

package seccomp

import (
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// writeFlags are the open(2) flags that make an open a write.
const writeFlags = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC

// ObservedPaths says, for each system call the observer is told about,
// which arguments hold (dirfd, path) pairs; dirfd -1 means the path is
// relative to the working directory.
var ObservedPaths = map[uint32][][2]int{
	unix.SYS_OPEN: {{-1, 0}}, unix.SYS_OPENAT: {{0, 1}}, unix.SYS_CREAT: {{-1, 0}},
	unix.SYS_MKDIR: {{-1, 0}}, unix.SYS_MKDIRAT: {{0, 1}},
	unix.SYS_UNLINK: {{-1, 0}}, unix.SYS_UNLINKAT: {{0, 1}}, unix.SYS_RMDIR: {{-1, 0}},
	unix.SYS_RENAME: {{-1, 0}, {-1, 1}}, unix.SYS_RENAMEAT: {{0, 1}, {2, 3}}, unix.SYS_RENAMEAT2: {{0, 1}, {2, 3}},
	unix.SYS_LINK: {{-1, 1}}, unix.SYS_LINKAT: {{2, 3}},
	unix.SYS_SYMLINK: {{-1, 1}}, unix.SYS_SYMLINKAT: {{1, 2}},
	unix.SYS_TRUNCATE: {{-1, 0}}, unix.SYS_CHMOD: {{-1, 0}}, unix.SYS_FCHMODAT: {{0, 1}},
	unix.SYS_MKNOD: {{-1, 0}}, unix.SYS_MKNODAT: {{0, 1}},
}

// ObserverOptions select the observer's parts that depend on the policy.
type ObserverOptions struct {
	// Guard hands every call that makes a new name (open with O_CREAT,
	// mkdir, mknod, link, symlink, rename) to the supervisor, which makes
	// the name itself or refuses it: some deny_write rule may match a name
	// that does not exist yet. umask() is handed over too (the supervisor
	// applies the caller's umask to the names it makes). openat2, whose flags sit in memory the
	// caller could change under the supervisor, then fails with ENOSYS, as
	// on kernels before 5.6, and callers fall back to openat.
	Guard bool
	// UnixConnect hands every connect() to the supervisor, whatever its
	// address length: with allow_unix_sockets the supervisor connects a
	// unix socket itself, to a named socket only, and no connect()
	// continues on memory the caller could change.
	UnixConnect bool
	// NetConnect hands every connect() and every listen() to the
	// supervisor (the backend without a network namespace): it makes
	// each connection itself, through the proxy, and lets a socket
	// listen only on the loopback.
	NetConnect bool
	// Standalone is a run with no mount namespace (the standalone Landlock
	// backend): the supervisor performs the calls Landlock cannot judge
	// (supervisor/standalone.go), so it is told about fchmod and
	// fchmodat2 as well (Landlock does not restrict modes), and, as with
	// Guard, openat2 fails with ENOSYS. It implies Guard.
	Standalone bool
}

// ObserverProgram is a second filter, stacked on the enforcing one, that
// hands every write-intent path call to a supervisor on the host (user
// notification) so refused writes can be reported. It decides nothing:
// the supervisor always lets the call continue to the kernel, which
// enforces the mounts. Opens for reading are not observed: they are the
// bulk of all calls and would cost every command dearly.
func ObserverProgram(opts ObserverOptions) ([]bpf.RawInstruction, error) {
	arch, ok := nativeArch()
	if !ok {
		return nil, errNoArch
	}
	if opts.Standalone {
		opts.Guard = true
	}
	notify := bpf.RetConstant{Val: unix.SECCOMP_RET_USER_NOTIF}
	allow := bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: arch, SkipTrue: 1},
		allow,
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	// open and openat notify only with a write flag.
	openFlags := func(nr uint32, argOff uint32) []bpf.Instruction {
		return []bpf.Instruction{
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 4},
			bpf.LoadAbsolute{Off: argOff, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: writeFlags, SkipTrue: 1},
			allow,
			notify,
		}
	}
	prog = append(prog, openFlags(unix.SYS_OPENAT, offArg0+16)...)
	prog = append(prog, bpf.LoadAbsolute{Off: offNr, Size: 4})
	prog = append(prog, openFlags(unix.SYS_OPEN, offArg0+8)...)
	prog = append(prog, bpf.LoadAbsolute{Off: offNr, Size: 4})
	for nr := range ObservedPaths {
		switch nr {
		case unix.SYS_OPEN, unix.SYS_OPENAT:
			continue
		case unix.SYS_MKNOD, unix.SYS_MKNODAT:
			if !opts.Guard {
				continue // makes no regular file or directory a command writes to
			}
		}
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 1}, notify)
	}
	if opts.Standalone {
		for _, nr := range []uint32{unix.SYS_FCHMOD, unix.SYS_FCHMODAT2, unix.SYS_UTIMENSAT} {
			prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 1}, notify)
		}
		// The older calls that set times, which libc no longer uses:
		// utimensat is the one judged.
		for _, nr := range []uint32{unix.SYS_UTIME, unix.SYS_UTIMES, unix.SYS_FUTIMESAT} {
			prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: 1},
				bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
		}
	}
	if opts.Guard {
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_OPENAT2, SkipFalse: 1},
			bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
		// umask: the guard applies the caller's, and reads it again only
		// once some process has changed it.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_UMASK, SkipFalse: 1}, notify)
	}
	// connect() with an IPv4 or IPv6 address: the network capture
	// (netinside.Supervisor) steers pool addresses and DNS through the proxy.
	if opts.NetConnect {
		prog = append(prog,
			bpf.LoadAbsolute{Off: offNr, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_LISTEN, SkipFalse: 1},
			notify,
		)
	}
	if opts.UnixConnect || opts.NetConnect {
		prog = append(prog,
			bpf.LoadAbsolute{Off: offNr, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CONNECT, SkipFalse: 1},
			notify,
		)
	}
	prog = append(prog,
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CONNECT, SkipFalse: 4},
		bpf.LoadAbsolute{Off: offArg0 + 16, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 16, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 28, SkipFalse: 1},
		notify,
	)
	prog = append(prog, allow)
	return bpf.Assemble(prog)
}
