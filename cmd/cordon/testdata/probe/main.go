// Command probe tries one thing a sandboxed attacker would, and prints
// "allowed" or "refused: ERR". It is built by the tests only.
package main

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	var err error
	switch os.Args[1] {
	case "io_uring":
		params := make([]byte, 120)
		fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafePointer(params)), 0)
		if errno == 0 {
			unix.Close(int(fd))
		} else {
			err = errno
		}
	case "af_unix":
		var fd int
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
	case "ptrace":
		err = unix.PtraceAttach(1)
	case "userns":
		err = unix.Unshare(unix.CLONE_NEWUSER)
	case "mount":
		err = unix.Mount("none", "/tmp", "tmpfs", 0, "")
	case "keyctl":
		_, err = unix.KeyctlJoinSessionKeyring("cordon")
	case "bpf":
		_, _, errno := unix.Syscall(unix.SYS_BPF, 0, 0, 0)
		if errno != 0 {
			err = errno
		}
	case "clone_newuser":
		_, _, errno := unix.RawSyscall(unix.SYS_CLONE, uintptr(unix.CLONE_NEWUSER|syscall.SIGCHLD), 0, 0)
		if errno != 0 {
			err = errno
		}
	default:
		fmt.Println("unknown probe")
		os.Exit(2)
	}
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("allowed")
}
