// Command probe tries one thing a sandboxed attacker would, and prints
// "allowed" or "refused: ERR". It is built by the tests only.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
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
		err = ptraceChild()
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
	case "tiocsti":
		err = tiocsti()
	case "race_create":
		err = raceCreate()
	case "concurrent_create":
		err = concurrentCreate()
	case "signal_mkdir":
		err = signalMkdir()
	case "race_rename":
		err = raceRename()
	case "openat2_create":
		how := unix.OpenHow{Flags: unix.O_CREAT | unix.O_WRONLY | unix.O_CLOEXEC, Mode: 0o644}
		var fd int
		fd, err = unix.Openat2(unix.AT_FDCWD, "o2.pem", &how)
		if err == nil {
			unix.Close(fd)
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

// tiocsti pushes a command into the input queue of the terminal on
// standard input, which the shell that started cordon would read next:
// the kernel refuses it unless that terminal is the caller's controlling
// one, which bwrap's --new-session makes sure it is not.
func tiocsti() error {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		return fmt.Errorf("standard input is not a terminal, nothing to test: %w", err)
	}
	for _, c := range []byte("echo INJECTED\n") {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafePointer([]byte{c}))); errno != 0 {
			return errno
		}
	}
	return nil
}

// ptraceChild seizes a child of its own, which Yama allows whatever its
// ptrace_scope (1), so only the filter can refuse it. PTRACE_SEIZE stops
// nothing: when the filter is gone the probe says "allowed" and returns,
// where attaching to the sandbox's pid 1 would stop it and hang the run.
func ptraceChild() error {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		return fmt.Errorf("starting the child: %w", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	return unix.PtraceSeize(child.Process.Pid)
}

// raceCreate tries the TOCTOU a supervisor that checks a path and then
// lets the kernel read it again would lose: one thread flips the path
// between an allowed name and a denied one while another opens it with
// O_CREAT, many times. Refused when race.pem never appears.
func raceCreate() error {
	buf := []byte("safe.txt\x00")
	stop := make(chan struct{})
	go func() {
		names := [2][]byte{[]byte("safe.txt"), []byte("race.pem")}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			copy(buf, names[i%2])
		}
	}()
	cwd := unix.AT_FDCWD
	for i := 0; i < 3000; i++ {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafePointer(buf)),
			unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644, 0, 0)
		if errno == 0 {
			unix.Close(int(fd))
		}
	}
	close(stop)
	if _, err := os.Lstat("race.pem"); err != nil {
		return fmt.Errorf("race.pem never appeared: %w", err)
	}
	return nil
}

// raceRename tries the race a guard that walks a directory and then
// renames it would lose if a name could be made below it in between: one
// thread moves d to certs (where certs/*.pem is denied) and back, while
// another makes and removes d/x.pem, many times. Refused when certs/x.pem
// never appears; the counts show both sides ran.
func raceRename() error {
	if err := os.Mkdir("d", 0o755); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	stop := make(chan struct{})
	made := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				made <- n
				return
			default:
			}
			if f, err := os.OpenFile("d/x.pem", os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
				os.Remove("d/x.pem")
				n++
			}
		}
	}()
	moved, landed := 0, 0
	for i := 0; i < 3000; i++ {
		if os.Rename("d", "certs") != nil {
			continue
		}
		moved++
		if _, err := os.Lstat("certs/x.pem"); err == nil {
			landed++
			os.Remove("certs/x.pem")
		}
		if err := os.Rename("certs", "d"); err != nil {
			close(stop)
			<-made
			return fmt.Errorf("control: moving certs back: %w", err)
		}
	}
	close(stop)
	n := <-made
	os.Remove("d/x.pem")
	os.Remove("d")
	if landed > 0 {
		return nil
	}
	return fmt.Errorf("never landed (moved %d, made %d)", moved, n)
}

// signalMkdir makes 2,000 new directories while another thread signals
// the one making them, over and over: a supervisor that performs a call
// itself and lets the kernel restart it after the signal makes the name
// twice, and the second time answers "exists". Refused when no mkdir of a
// new name failed.
func signalMkdir() error {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, syscall.SIGUSR1)
	go func() {
		for range sigs {
		}
	}()
	runtime.LockOSThread()
	pid, tid := unix.Getpid(), unix.Gettid()
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			if unix.Tgkill(pid, tid, unix.SIGUSR1) == nil {
				n++
			}
		}
	}()
	twice := 0
	for i := 0; i < 2000; i++ {
		if err := unix.Mkdir("sig"+strconv.Itoa(i), 0o755); err == unix.EEXIST {
			twice++
		}
	}
	close(stop)
	n := <-sent
	for i := 0; i < 2000; i++ {
		unix.Rmdir("sig" + strconv.Itoa(i))
	}
	if twice > 0 {
		return nil
	}
	return fmt.Errorf("made 2000 names, signalled %d times, none twice", n)
}

// concurrentCreate makes and writes 4,000 new files from eight threads at
// once, the way go's module unzip and npm do: each open must give a
// descriptor of the file it made (a supervisor that answers one with
// another number, 0 say, makes the write fail or land elsewhere). Refused
// when every write reached its own file.
func concurrentCreate() error {
	if err := os.Mkdir("cc", 0o755); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 500; i++ {
				name := "cc/" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
				if err != nil {
					errs <- fmt.Errorf("control: %w", err)
					return
				}
				_, werr := f.WriteString(name)
				fd := f.Fd()
				f.Close()
				if werr != nil || fd <= 2 {
					errs <- fmt.Errorf("open of %s answered with descriptor %d (%v)", name, fd, werr)
					return
				}
				if b, err := os.ReadFile(name); err != nil || string(b) != name {
					errs <- fmt.Errorf("%s holds %q (%v)", name, b, err)
					return
				}
			}
			errs <- nil
		}(g)
	}
	var first error
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	os.RemoveAll("cc")
	if first != nil {
		if strings.HasPrefix(first.Error(), "control: ") {
			return first
		}
		fmt.Println(first)
		return nil
	}
	return fmt.Errorf("every open gave its own file (4000 made)")
}
