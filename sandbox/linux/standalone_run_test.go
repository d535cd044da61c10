//go:build linux

package linux

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/seccomp"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// A stand-in for the standalone backend's start, for the tests of the
// filesystem half: no bwrap, no namespace. The launcher (run as the user
// the test is about) plans the run with PlanStandalone, starts the child
// stage, receives its observer listener and supervises it with the
// standalone judge; the child restricts itself with the computed ruleset,
// installs the observer filter and execs the command.

const (
	standaloneArg      = "__standalone"
	standaloneChildArg = "__standalone-child"
	// standaloneOffVar "1": the positive control, nothing in force.
	standaloneOffVar = "CORDON_TEST_STANDALONE_OFF"
)

// standaloneMain runs `ROOT HOME -- ARGV...` and exits with the command's
// status; each violation is one stderr line, "cordon: blocked write TARGET".
func standaloneMain(args []string) int {
	if len(args) < 4 || args[2] != "--" {
		fmt.Fprintln(os.Stderr, "standalone: usage: ROOT HOME -- ARGV...")
		return 2
	}
	root, home := args[0], args[1]
	p, err := workspace.Load(workspace.LoadOptions{Root: root, Dirs: workspace.Dirs{
		Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon"),
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "standalone:", err)
		return 125
	}
	if !p.Trusted {
		workspace.TrustStore{Dir: p.StateDir}.Trust(p.File, p.Hash)
		if p, err = workspace.Load(workspace.LoadOptions{Root: root, Dirs: workspace.Dirs{
			Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon"),
		}}); err != nil {
			fmt.Fprintln(os.Stderr, "standalone:", err)
			return 125
		}
	}
	st, err := PlanStandalone(p, StandaloneOptions{Guard: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "standalone: refused:", err)
		return 125
	}
	off := os.Getenv(standaloneOffVar) == "1"
	env := st.CommandEnv(os.Environ(), p)
	rules, _ := json.Marshal(st.Rules)
	control, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standalone:", err)
		return 125
	}
	self, _ := os.Executable()
	childArgs := []string{standaloneChildArg}
	if off {
		childArgs = append(childArgs, "off")
	} else {
		childArgs = append(childArgs, string(rules))
	}
	cmd := exec.Command(self, append(childArgs, args[3:]...)...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(control[1]), "control")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "standalone:", err)
		return 125
	}
	unix.Close(control[1])
	var obs *supervisor.Observer
	if !off {
		buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := unix.Recvmsg(control[0], buf, oob, 0)
		var fds []int
		if err == nil {
			if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil && len(msgs) == 1 {
				fds, _ = unix.ParseUnixRights(&msgs[0])
			}
		}
		if len(fds) != 1 {
			fmt.Fprintln(os.Stderr, "standalone: no observer listener from the child:", err)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 125
		}
		var pool supervisor.GuardPool
		obs = supervisor.StartObserver(fds[0], st.Judge, nil, &pool)
	}
	werr := cmd.Wait()
	if obs != nil {
		for _, v := range obs.Stop() {
			fmt.Fprintf(os.Stderr, "cordon: blocked %s %s (%s)\n", v.Kind, v.Target, v.Rule)
		}
	}
	if ee, ok := werr.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if werr != nil {
		return 125
	}
	return 0
}

// standaloneChildMain restricts itself with RULES (or nothing: "off"),
// hands its observer listener to the launcher on fd 3 and execs ARGV.
func standaloneChildMain(args []string) int {
	runtime.LockOSThread()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "standalone child:", err)
		return 125
	}
	if len(args) < 2 {
		return fail(fmt.Errorf("usage: RULES ARGV..."))
	}
	// No capabilities, as the standalone backend runs its commands (and a
	// capless supervisor could not read a caller that has them): the
	// bounding set emptied, so that an exec as root regains none.
	for c := 0; c < 64; c++ {
		_ = unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var none [2]unix.CapUserData
	if err := unix.Capset(&hdr, &none[0]); err != nil {
		return fail(err)
	}
	if args[0] != "off" {
		var r landlock.Rules
		if err := json.Unmarshal([]byte(args[0]), &r); err != nil {
			return fail(err)
		}
		if _, err := landlock.Restrict(r); err != nil {
			return fail(err)
		}
		raw, err := seccomp.ObserverProgram(seccomp.ObserverOptions{Standalone: true})
		if err != nil {
			return fail(err)
		}
		filter := make([]unix.SockFilter, len(raw))
		for i, ins := range raw {
			filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
		}
		prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
		runtime.KeepAlive(filter)
		if errno != 0 {
			return fail(fmt.Errorf("observer filter: %w", errno))
		}
		if err := unix.Sendmsg(3, []byte("fd"), unix.UnixRights(int(fd)), nil, 0); err != nil {
			return fail(err)
		}
		unix.Close(int(fd))
	}
	unix.Close(3)
	path, err := exec.LookPath(args[1])
	if err != nil {
		return fail(err)
	}
	return fail(syscall.Exec(path, args[1:], os.Environ()))
}

// standaloneLines drops the launcher's blocked lines from out, returning
// them apart.
func standaloneLines(out string) (rest string, blocked []string) {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "cordon: blocked ") {
			blocked = append(blocked, l)
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n"), blocked
}
