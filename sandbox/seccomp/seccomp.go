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
}

var errNoArch = errors.New("seccomp: no filter for this architecture")

// seccomp_data offsets.
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits on little-endian
)

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
	emitJeq(unix.SYS_CLONE, "clone")
	if !opts.AllowUnixSockets {
		emitJeq(unix.SYS_SOCKET, "socket")
	}
	prog = append(prog, allow)

	labels := map[string]int{}
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
