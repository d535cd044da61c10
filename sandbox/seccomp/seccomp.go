//go:build linux

// Package seccomp assembles the sandbox's seccomp-bpf program in Go: no
// prebuilt blobs, no libseccomp. The program is loaded by bubblewrap
// (--seccomp FD) before the first instruction of the sandboxed init runs.
package seccomp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Options select the parts of the filter that depend on the policy.
type Options struct {
	// AllowUnixSockets lets socket(AF_UNIX) through (the policy allows
	// some unix sockets); otherwise it fails with EPERM.
	AllowUnixSockets bool
	// HostNetwork: the command shares the host's network namespace (the
	// backend without namespaces). Internet sockets are then TCP streams
	// only, whose connect() the supervisor makes (the observer's
	// NetConnect), and nothing may open a connection without connect():
	// UDP, raw, SCTP, MPTCP, netlink, packet and every other family fail
	// with EPERM, and so does a send with MSG_FASTOPEN (a connect inside
	// sendto that neither seccomp nor Landlock sees as one).
	HostNetwork bool
}

// msgFastOpen is MSG_FASTOPEN (linux/socket.h).
const msgFastOpen = 0x20000000

var errNoArch = errors.New("seccomp: no filter for this architecture")

// seccomp_data offsets.
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits on little-endian
)

// offArg is the offset of argument i's low 32 bits (little-endian).
func offArg(i int) uint32 { return offArg0 + 8*uint32(i) }

// Denied lists the system calls refused with EPERM: each either lets a
// process escape or inspect the sandbox (mount family, ptrace, new
// namespaces, kernel keyrings, bpf, module and kexec loading) or bypasses
// seccomp itself (io_uring).
func Denied() map[string]uint32 {
	return map[string]uint32{
		"io_uring_setup": unix.SYS_IO_URING_SETUP, "io_uring_enter": unix.SYS_IO_URING_ENTER,
		"io_uring_register": unix.SYS_IO_URING_REGISTER,
		"mount":             unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2, "pivot_root": unix.SYS_PIVOT_ROOT,
		"move_mount": unix.SYS_MOVE_MOUNT, "open_tree": unix.SYS_OPEN_TREE, "fsopen": unix.SYS_FSOPEN,
		"fsmount": unix.SYS_FSMOUNT, "fsconfig": unix.SYS_FSCONFIG, "fspick": unix.SYS_FSPICK,
		"mount_setattr": unix.SYS_MOUNT_SETATTR,
		"ptrace":        unix.SYS_PTRACE, "process_vm_readv": unix.SYS_PROCESS_VM_READV,
		"process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
		"keyctl":            unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
		"bpf": unix.SYS_BPF, "userfaultfd": unix.SYS_USERFAULTFD, "perf_event_open": unix.SYS_PERF_EVENT_OPEN,
		"kexec_load": unix.SYS_KEXEC_LOAD, "kexec_file_load": unix.SYS_KEXEC_FILE_LOAD,
		"init_module": unix.SYS_INIT_MODULE, "finit_module": unix.SYS_FINIT_MODULE,
		"delete_module": unix.SYS_DELETE_MODULE,
		"unshare":       unix.SYS_UNSHARE, "setns": unix.SYS_SETNS,
		"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT,
		"swapon":            unix.SYS_SWAPON, "swapoff": unix.SYS_SWAPOFF, "reboot": unix.SYS_REBOOT,
		"acct": unix.SYS_ACCT,
	}
}

// suidBits are the mode bits no file made or changed inside may carry:
// inside, uid 0 is host uid 0 when root runs cordon, and a setuid or
// setgid file left in the workspace would run as its owner for any local
// user.
const suidBits = unix.S_ISUID | unix.S_ISGID

// createFlags are the open flags with which the mode argument counts.
// O_TMPFILE is __O_TMPFILE|O_DIRECTORY; the first bit alone says it.
const createFlags = unix.O_CREAT | (unix.O_TMPFILE &^ unix.O_DIRECTORY)

// ModeCall is a system call with a file mode argument: Mode is that
// argument's index, Flags that of its open flags (-1: none), with which
// the mode only counts when they create (createFlags).
type ModeCall struct {
	Nr          uint32
	Flags, Mode int
}

// ModeCalls lists, by name, the calls that make or change a file's mode;
// each fails with EPERM when its mode holds S_ISUID or S_ISGID. The mode
// is a register, which seccomp reads race-free. (openat2's mode is in
// memory: openat2 fails with ENOSYS and callers fall back to openat.)
func ModeCalls() map[string]ModeCall {
	m := map[string]ModeCall{
		"fchmod": {unix.SYS_FCHMOD, -1, 1}, "fchmodat": {unix.SYS_FCHMODAT, -1, 2},
		"fchmodat2": {unix.SYS_FCHMODAT2, -1, 2}, "openat": {unix.SYS_OPENAT, 2, 3},
		"mknodat": {unix.SYS_MKNODAT, -1, 2}, "mkdirat": {unix.SYS_MKDIRAT, -1, 2},
	}
	for name, c := range legacyModeCalls() {
		m[name] = c
	}
	return m
}

// Program assembles the filter for the architecture cordon was built for.
// Every syscall of another ABI (i386 through int 0x80, x32) is refused.
func Program(opts Options) ([]bpf.RawInstruction, error) {
	arch, ok := nativeArch()
	if !ok {
		return nil, errNoArch
	}
	eperm := bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)}
	enosys := bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}
	allow := bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW}

	var prog []bpf.Instruction
	// label fix-ups: we assemble straight-line code with jumps to the
	// shared return blocks at the end.
	type jump struct {
		at     int
		target string
		onTrue bool
	}
	var jumps []jump
	emitJeq := func(val uint32, target string) {
		jumps = append(jumps, jump{len(prog), target, true})
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: val})
	}

	prog = append(prog, bpf.LoadAbsolute{Off: offArch, Size: 4})
	jumps = append(jumps, jump{len(prog), "eperm", false})
	prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: arch})
	prog = append(prog, bpf.LoadAbsolute{Off: offNr, Size: 4})
	if x32Bit != 0 {
		// x32 syscalls share the x86_64 arch value with this bit set.
		jumps = append(jumps, jump{len(prog), "eperm", true})
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit})
	}
	for _, nr := range Denied() {
		emitJeq(nr, "eperm")
	}
	// clone3 passes its flags in memory seccomp cannot read: ENOSYS makes
	// libc fall back to clone, whose flags we can check.
	emitJeq(unix.SYS_CLONE3, "enosys")
	emitJeq(unix.SYS_OPENAT2, "enosys")
	emitJeq(unix.SYS_CLONE, "clone")
	if opts.HostNetwork {
		emitJeq(unix.SYS_SOCKET, "hostsocket")
		emitJeq(unix.SYS_SENDTO, "fastopen-3")
		emitJeq(unix.SYS_SENDMSG, "fastopen-2")
		emitJeq(unix.SYS_SENDMMSG, "fastopen-3")
	} else if !opts.AllowUnixSockets {
		emitJeq(unix.SYS_SOCKET, "socket")
	}
	if !opts.AllowUnixSockets {
		emitJeq(unix.SYS_SOCKETPAIR, "socketpair")
	}
	modeLabel := func(c ModeCall) string { return fmt.Sprintf("mode-%d-%d", c.Flags, c.Mode) }
	modeBlocks := map[string]ModeCall{}
	for _, c := range ModeCalls() {
		emitJeq(c.Nr, modeLabel(c))
		modeBlocks[modeLabel(c)] = c
	}
	prog = append(prog, allow)

	labels := map[string]int{}
	for label, c := range modeBlocks {
		labels[label] = len(prog)
		if c.Flags >= 0 {
			// Without a create flag the mode is ignored (and may be
			// anything the caller's libc left in the register).
			prog = append(prog,
				bpf.LoadAbsolute{Off: offArg(c.Flags), Size: 4},
				bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: createFlags, SkipFalse: 3},
			)
		}
		prog = append(prog,
			bpf.LoadAbsolute{Off: offArg(c.Mode), Size: 4},
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: suidBits, SkipFalse: 1},
			eperm,
			allow,
		)
	}
	// clone: refuse new namespaces (user, mount, pid, net, ...).
	labels["clone"] = len(prog)
	prog = append(prog,
		bpf.LoadAbsolute{Off: offArg0, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID |
			unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP, SkipTrue: 1},
		allow,
		eperm,
	)
	labels["socket"] = len(prog)
	prog = append(prog,
		bpf.LoadAbsolute{Off: offArg0, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AF_UNIX, SkipTrue: 1},
		allow,
		eperm,
	)
	// socketpair: stream pairs only (Node, Python and Go make them for
	// child pipes). A datagram or seqpacket end could send to any
	// pathname datagram socket on the host (journald, /dev/log, systemd's
	// notify socket), disconnect, and bind names in the workspace; a
	// stream end is connected for good (an address on send is EISCONN).
	labels["socketpair"] = len(prog)
	prog = append(prog,
		bpf.LoadAbsolute{Off: offArg(1), Size: 4},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ^uint32(unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK)},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SOCK_STREAM, SkipTrue: 1},
		eperm,
		allow,
	)
	if opts.HostNetwork {
		// socket(): AF_UNIX as the policy says; AF_INET and AF_INET6 as
		// SOCK_STREAM with protocol 0 or IPPROTO_TCP; nothing else.
		unixVerdict := bpf.Instruction(eperm)
		if opts.AllowUnixSockets {
			unixVerdict = allow
		}
		labels["hostsocket"] = len(prog)
		prog = append(prog,
			bpf.LoadAbsolute{Off: offArg0, Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AF_UNIX, SkipFalse: 1},
			unixVerdict,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AF_INET, SkipTrue: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AF_INET6, SkipTrue: 1},
			eperm,
			bpf.LoadAbsolute{Off: offArg(1), Size: 4},
			bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ^uint32(unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK)},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.SOCK_STREAM, SkipFalse: 1},
			eperm,
			bpf.LoadAbsolute{Off: offArg(2), Size: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_TCP, SkipTrue: 1},
			eperm,
			allow,
		)
		// sendto, sendmsg, sendmmsg: MSG_FASTOPEN in the flags argument.
		for _, arg := range []int{2, 3} {
			labels[fmt.Sprintf("fastopen-%d", arg)] = len(prog)
			prog = append(prog,
				bpf.LoadAbsolute{Off: offArg(arg), Size: 4},
				bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: msgFastOpen, SkipFalse: 1},
				eperm,
				allow,
			)
		}
	}
	labels["eperm"] = len(prog)
	prog = append(prog, eperm)
	labels["enosys"] = len(prog)
	prog = append(prog, enosys)
	labels["allow"] = len(prog)
	prog = append(prog, allow)

	for _, j := range jumps {
		target, ok := labels[j.target]
		if !ok {
			return nil, fmt.Errorf("seccomp: no label %s", j.target)
		}
		skip := target - j.at - 1
		if skip < 0 || skip > 255 {
			return nil, fmt.Errorf("seccomp: jump to %s out of range", j.target)
		}
		ji := prog[j.at].(bpf.JumpIf)
		if j.onTrue {
			ji.SkipTrue = uint8(skip)
		} else {
			ji.SkipFalse = uint8(skip)
		}
		prog[j.at] = ji
	}
	return bpf.Assemble(prog)
}

// Bytes encodes the program as struct sock_filter array, the format
// bwrap --seccomp reads.
func Bytes(raw []bpf.RawInstruction) []byte {
	var b bytes.Buffer
	for _, ins := range raw {
		_ = binary.Write(&b, binary.NativeEndian, ins.Op)
		b.WriteByte(ins.Jt)
		b.WriteByte(ins.Jf)
		_ = binary.Write(&b, binary.NativeEndian, ins.K)
	}
	return b.Bytes()
}
