//go:build linux

package seccomp

import (
	"encoding/binary"
	"runtime"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// run evaluates the filter in x/net/bpf's VM on a seccomp_data record.
func run(t *testing.T, opts Options, arch uint32, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	raw, err := Program(opts)
	if err != nil {
		t.Fatal(err)
	}
	return runProgram(t, raw, arch, nr, uint32(arg0))
}

// runProgram evaluates raw on a call with the given arguments (their low
// 32 bits).
func runProgram(t *testing.T, raw []bpf.RawInstruction, arch, nr uint32, args ...uint32) uint32 {
	t.Helper()
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the program does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel loads seccomp_data words in host order; the VM loads
	// packet bytes big-endian. Lay each word out so the VM reads the value
	// the kernel would.
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], nr)
	binary.BigEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], a)
	}
	out, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(out)
}

const (
	allow = unix.SECCOMP_RET_ALLOW
	eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

// mustDeny is the deny list written out on its own: checking Denied()
// against the program built from Denied() would pass with a rule removed
// from both.
var mustDeny = map[string]uint32{
	"io_uring_setup": unix.SYS_IO_URING_SETUP, "io_uring_enter": unix.SYS_IO_URING_ENTER,
	"io_uring_register": unix.SYS_IO_URING_REGISTER, "mount": unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2,
	"pivot_root": unix.SYS_PIVOT_ROOT, "move_mount": unix.SYS_MOVE_MOUNT, "open_tree": unix.SYS_OPEN_TREE,
	"fsopen": unix.SYS_FSOPEN, "fsmount": unix.SYS_FSMOUNT, "fsconfig": unix.SYS_FSCONFIG,
	"fspick": unix.SYS_FSPICK, "mount_setattr": unix.SYS_MOUNT_SETATTR, "ptrace": unix.SYS_PTRACE,
	"process_vm_readv": unix.SYS_PROCESS_VM_READV, "process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
	"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
	"bpf": unix.SYS_BPF, "userfaultfd": unix.SYS_USERFAULTFD, "perf_event_open": unix.SYS_PERF_EVENT_OPEN,
	"kexec_load": unix.SYS_KEXEC_LOAD, "kexec_file_load": unix.SYS_KEXEC_FILE_LOAD,
	"init_module": unix.SYS_INIT_MODULE, "finit_module": unix.SYS_FINIT_MODULE,
	"delete_module": unix.SYS_DELETE_MODULE, "unshare": unix.SYS_UNSHARE, "setns": unix.SYS_SETNS,
	"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT, "swapon": unix.SYS_SWAPON, "swapoff": unix.SYS_SWAPOFF,
	"reboot": unix.SYS_REBOOT, "acct": unix.SYS_ACCT,
}

func TestDeniedSyscalls(t *testing.T) {
	arch, _ := nativeArch()
	for name := range Denied() {
		if _, ok := mustDeny[name]; !ok {
			t.Errorf("%s is denied but not in this test's list: add it here", name)
		}
	}
	for name, nr := range mustDeny {
		if got := run(t, Options{}, arch, nr, 0); got != eperm {
			t.Errorf("%s: %#x, want EPERM", name, got)
		}
	}
	for name, nr := range map[string]uint32{"read": unix.SYS_READ, "openat": unix.SYS_OPENAT, "execve": unix.SYS_EXECVE, "connect": unix.SYS_CONNECT} {
		if got := run(t, Options{}, arch, nr, 0); got != allow {
			t.Errorf("%s: %#x, want allow", name, got)
		}
	}
}

func TestForeignArchitecturesRefused(t *testing.T) {
	for _, arch := range []uint32{unix.AUDIT_ARCH_I386, unix.AUDIT_ARCH_ARM, 0} {
		// getpid on i386 is 20; any number is refused under a foreign ABI.
		if got := run(t, Options{}, arch, 20, 0); got != eperm {
			t.Errorf("arch %#x: %#x, want EPERM", arch, got)
		}
	}
	if x32Bit != 0 {
		arch, _ := nativeArch()
		if got := run(t, Options{}, arch, x32Bit|unix.SYS_GETPID, 0); got != eperm {
			t.Errorf("x32 getpid: %#x, want EPERM", got)
		}
	}
}

func TestSocketAndClone(t *testing.T) {
	arch, _ := nativeArch()
	if got := run(t, Options{}, arch, unix.SYS_SOCKET, unix.AF_UNIX); got != eperm {
		t.Errorf("socket(AF_UNIX): %#x", got)
	}
	if got := run(t, Options{}, arch, unix.SYS_SOCKET, unix.AF_INET); got != allow {
		t.Errorf("socket(AF_INET): %#x", got)
	}
	if got := run(t, Options{AllowUnixSockets: true}, arch, unix.SYS_SOCKET, unix.AF_UNIX); got != allow {
		t.Errorf("socket(AF_UNIX) with unix sockets allowed: %#x", got)
	}
	if got := run(t, Options{}, arch, unix.SYS_CLONE, unix.CLONE_NEWUSER); got != eperm {
		t.Errorf("clone(CLONE_NEWUSER): %#x", got)
	}
	if got := run(t, Options{}, arch, unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_THREAD); got != allow {
		t.Errorf("clone(thread): %#x", got)
	}
	if got := run(t, Options{}, arch, unix.SYS_CLONE3, 0); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
		t.Errorf("clone3: %#x, want ENOSYS", got)
	}
}

// Every mode call refuses S_ISUID and S_ISGID, and only those; the open
// forms only when they create.
func TestModeCallsRefuseSetuid(t *testing.T) {
	arch, _ := nativeArch()
	raw, err := Program(Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The test holds its own list, so dropping a call from ModeCalls fails.
	want := []string{"fchmod", "fchmodat", "fchmodat2", "openat", "mknodat", "mkdirat"}
	if runtime.GOARCH == "amd64" {
		want = append(want, "chmod", "creat", "open", "mknod", "mkdir")
	}
	calls := ModeCalls()
	for _, name := range want {
		if _, ok := calls[name]; !ok {
			t.Errorf("%s is not a mode call", name)
		}
	}
	for name, c := range calls {
		call := func(flags, mode uint32) uint32 {
			args := make([]uint32, 6)
			if c.Flags >= 0 {
				args[c.Flags] = flags
			}
			args[c.Mode] = mode
			return runProgram(t, raw, arch, c.Nr, args...)
		}
		create := []uint32{0}
		if c.Flags >= 0 {
			create = []uint32{unix.O_CREAT | unix.O_WRONLY, unix.O_TMPFILE | unix.O_RDWR, unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC}
		}
		for _, flags := range create {
			for _, mode := range []uint32{0o4755, 0o2755, 0o6777, unix.S_IFIFO | 0o4777, 0o4000} {
				if got := call(flags, mode); got != eperm {
					t.Errorf("%s(flags %#o, mode %#o): %#x, want EPERM", name, flags, mode, got)
				}
			}
			for _, mode := range []uint32{0, 0o755, 0o1777, 0o666, unix.S_IFIFO | 0o644} {
				if got := call(flags, mode); got != allow {
					t.Errorf("%s(flags %#o, mode %#o): %#x, want allow", name, flags, mode, got)
				}
			}
		}
		if c.Flags >= 0 {
			// Without a create flag the mode is not looked at.
			if got := call(unix.O_RDONLY, 0o6777); got != allow {
				t.Errorf("%s(O_RDONLY, 06777): %#x, want allow", name, got)
			}
		}
	}
	if got := runProgram(t, raw, arch, unix.SYS_OPENAT2, 0, 0, 0, 0); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
		t.Errorf("openat2: %#x, want ENOSYS (its mode is in memory)", got)
	}
}

func TestSocketpairStreamOnly(t *testing.T) {
	arch, _ := nativeArch()
	for _, tc := range []struct {
		typ  uint32
		opts Options
		want uint32
	}{
		{unix.SOCK_STREAM, Options{}, allow},
		{unix.SOCK_STREAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK, Options{}, allow},
		{unix.SOCK_DGRAM, Options{}, eperm},
		{unix.SOCK_DGRAM | unix.SOCK_CLOEXEC, Options{}, eperm},
		{unix.SOCK_SEQPACKET, Options{}, eperm},
		{unix.SOCK_SEQPACKET | unix.SOCK_NONBLOCK, Options{}, eperm},
		{unix.SOCK_RAW, Options{}, eperm},
		{unix.SOCK_DGRAM, Options{AllowUnixSockets: true}, allow},
	} {
		raw, err := Program(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := runProgram(t, raw, arch, unix.SYS_SOCKETPAIR, unix.AF_UNIX, tc.typ, 0, 0); got != tc.want {
			t.Errorf("socketpair(AF_UNIX, %#x) %+v: %#x, want %#x", tc.typ, tc.opts, got, tc.want)
		}
	}
}
