//go:build linux

package initstage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"golang.org/x/sys/unix"
)

// KeeperArg is the hidden subcommand of the keeper: the first process of
// a run of the backend without namespaces (package hostns), `INIT __keep
// CONFIG -- ARGV...`.
const KeeperArg = "__keep"

// KillSignal asks the keeper to end every process of the run: the host
// sends it to end a run (Kill), and it is the keeper's parent-death
// signal, so the run ends with cordon.
const KillSignal = syscall.SIGUSR2

// KeeperMain is the keeper. Without a PID namespace to end with its
// init, the run's processes are held together by Landlock: the keeper
// enters a Landlock domain of its own (scoped: no signal out of it), then
// starts the stage (Main), which enters a second domain nested in the
// first one with the run's whole ruleset and execs the command. Landlock
// lets a process signal only processes of its own domain or of one
// nested in it, so
//
//   - the keeper's kill(-1, SIGKILL) reaches exactly the run's processes:
//     every one of them, whatever session or process group it moved to,
//     daemonised or not (they are all the keeper's descendants, and it is
//     their subreaper), and nothing of the host's or of another run;
//   - nothing of the run can signal the keeper, which is in the outer
//     domain (ptrace is refused by seccomp and by Landlock alike).
//
// The keeper ends the run when the command exits, when the host sends
// KillSignal, or when the host dies (its parent-death signal); it exits
// with the command's status (128+N for a signal N).
func KeeperMain(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "cordon: keeper: bad arguments")
		return 125
	}
	cfg, err := DecodeConfig(args[0])
	if err != nil {
		return fail(fmt.Errorf("bad configuration: %w", err))
	}
	// Everything that decides (the domain, kill(-1)) happens on this
	// thread: Landlock applies per thread, and this one is restricted.
	runtime.LockOSThread()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, KillSignal, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGWINCH)
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(KillSignal), 0, 0, 0); err != nil {
		return fail(fmt.Errorf("parent-death signal: %w", err))
	}
	if cfg.Parent > 0 && os.Getppid() != cfg.Parent {
		return fail(errors.New("cordon ended before the run started"))
	}
	if _, err := unix.Setsid(); err != nil {
		// A session of its own: no controlling terminal, so no TIOCSTI
		// into the caller's.
		return fail(fmt.Errorf("new session: %w", err))
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("subreaper: %w", err))
	}
	if err := landlock.RestrictScope(); err != nil {
		return fail(err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail(fmt.Errorf("locating the init stage: %w", err))
	}
	files := make([]uintptr, maxInherited(cfg)+1)
	for i := range files {
		files[i] = uintptr(i)
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: files, Sys: &syscall.SysProcAttr{}}
	if !cfg.TTY {
		// The command's own process group, for signals the host forwards
		// (the stage makes a session of its own for a terminal).
		attr.Sys.Setpgid = true
	}
	stage, err := syscall.ForkExec(self, append([]string{"cordon-init", Arg}, args...), attr)
	if err != nil {
		return fail(fmt.Errorf("starting the init stage: %w", err))
	}
	// The stage talks to the host from here on.
	unix.Close(FDControl)

	type exit struct {
		pid int
		ws  syscall.WaitStatus
	}
	exits := make(chan exit, 16)
	go func() {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil { // ECHILD: nothing of the run is left
				close(exits)
				return
			}
			exits <- exit{pid, ws}
		}
	}()
	code := -1
	killAll := func() {
		// Landlock scoping limits kill(-1) to the run's domains.
		_ = unix.Kill(-1, unix.SIGKILL)
	}
	for {
		select {
		case e, ok := <-exits:
			if !ok {
				if code < 0 {
					code = 128 + int(unix.SIGKILL)
				}
				return code
			}
			if e.pid != stage {
				continue
			}
			switch {
			case e.ws.Exited():
				code = e.ws.ExitStatus()
			case e.ws.Signaled():
				code = 128 + int(e.ws.Signal())
			}
			killAll()
		case sig := <-sigs:
			if sig == KillSignal {
				if code < 0 {
					code = 128 + int(unix.SIGKILL)
				}
				killAll()
				continue
			}
			if code < 0 {
				_ = unix.Kill(-stage, sig.(syscall.Signal))
				_ = unix.Kill(stage, sig.(syscall.Signal))
			}
		}
	}
}

// maxInherited is the highest descriptor the stage needs from the host.
func maxInherited(cfg Config) int {
	m := FDImage
	for _, fd := range []int{cfg.Env, cfg.Stderr, cfg.Seccomp} {
		m = max(m, fd)
	}
	return m
}

// dropCapabilities empties every capability set of this thread and what
// it execs: the bounding and ambient sets, and (root) the securebits that
// would give a program run by uid 0 its capabilities back.
func dropCapabilities() error {
	const lastCap = 63
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("ambient capabilities: %w", err)
	}
	var hdr unix.CapUserHeader
	var data [2]unix.CapUserData
	hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	if data[0].Effective|data[1].Effective|data[0].Permitted|data[1].Permitted != 0 {
		// Only a process with CAP_SETPCAP can shrink these: root.
		for c := 0; c <= lastCap; c++ {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("bounding set: %w", err)
			}
		}
		// linux/securebits.h: NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off,
		// NO_CAP_AMBIENT_RAISE, each locked.
		const bits = 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<5 | 1<<6 | 1<<7
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(bits), 0, 0, 0); err != nil {
			return fmt.Errorf("securebits: %w", err)
		}
	}
	data = [2]unix.CapUserData{}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	return nil
}

// loadFilter loads the seccomp program (struct sock_filter array) read
// from fd on this thread; no_new_privs is set already (landlock.Restrict
// sets it; set here too for a run without Landlock rules).
func loadFilter(fd int) error {
	f := os.NewFile(uintptr(fd), "cordon-seccomp")
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("seccomp filter: %w", err)
	}
	b := make([]byte, st.Size)
	if _, err := f.ReadAt(b, 0); err != nil || len(b) == 0 || len(b)%8 != 0 {
		return fmt.Errorf("seccomp filter: unreadable (%v)", err)
	}
	filter := make([]unix.SockFilter, len(b)/8)
	for i := range filter {
		ins := b[i*8:]
		filter[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(ins), Jt: ins[2], Jf: ins[3], K: binary.NativeEndian.Uint32(ins[4:])}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return fmt.Errorf("seccomp filter: %w", errno)
	}
	return nil
}
