//go:build linux

// Package hostns is the Linux backend for machines where bubblewrap
// cannot make its namespaces (Docker's default seccomp profile, Ubuntu's
// AppArmor restriction of unprivileged user namespaces, a sysctl): the
// command runs in the host's namespaces, held by Landlock and seccomp
// alone.
//
//   - processes: a keeper (initstage.KeeperMain) in a Landlock domain of
//     its own, a new session and the run's subreaper, starts the stage in a
//     nested domain; kill(-1) from the keeper, scoped by Landlock, ends
//     every process of the run and nothing else; no capabilities,
//     no_new_privs, the enforcing seccomp filter of the bwrap backend;
//   - filesystem: the Landlock ruleset sandbox/linux computes for a run
//     without mounts (PlanStandalone), with the observer and guard of the
//     bwrap backend;
//   - network: the command's own TCP sockets only; every connect() and
//     listen() is made by the supervisor (netinside's host mode), to the
//     run's proxy or to a server of the run's own on the loopback, and
//     Landlock refuses any TCP connect the command would make itself.
//
// What is weaker than under bwrap is listed in Weaker (cordon doctor,
// sandbox/status and the README say it).
package hostns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/linux"
	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/netinside"
	"github.com/cordon-dev/cordon/sandbox/proxyenv"
	"github.com/cordon-dev/cordon/sandbox/seccomp"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"golang.org/x/sys/unix"
)

// Name is the backend's name, as CORDON_BACKEND selects it.
const Name = "landlock"

// MinABI is the Landlock ABI the backend needs: 6 scopes signals, which
// is what ends every process of a run (see initstage.KeeperMain).
const MinABI = 6

// Weaker lists, plainly, what this backend holds less well than the
// bwrap backend. One source for cordon doctor, sandbox/status and the
// README's table.
var Weaker = []string{
	"host processes are visible in /proc (their command lines too; their environments and memory are not: Landlock refuses /proc/PID/environ and /proc/PID/mem of every process outside the run)",
	"the host's /tmp is visible (read-only); the run's TMPDIR is its private temp dir",
	"cache directories are not copy-on-write: they are read-only unless allow_write names them",
	"no DNS and no UDP inside: names resolve through the proxy (HTTP_PROXY, ALL_PROXY, cordon connect); tools that ignore the proxy variables reach IP addresses only, through the proxy",
	"servers the command starts listen on the host's loopback (127.0.0.1, ::1), where local users can reach them; other addresses are refused",
	"existing read-only files inside writable places (deny_write, protected names) are enforced by the supervisor's guard, not by a mount",
}

// Options configure the backend.
type Options struct {
	Init   string // the cordon binary that runs the keeper and the stage; default os.Executable()
	Logger *slog.Logger
	// Reason is why this backend runs instead of bwrap ("no user
	// namespaces: …"), shown with its layers.
	Reason string
}

// Backend is the backend without namespaces.
type Backend struct {
	opts   Options
	guards supervisor.GuardPool
}

// New returns the backend.
func New(opts Options) *Backend {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Backend{opts: opts}
}

func (b *Backend) Name() string { return Name }

// Weaker is what this backend holds less well than bwrap (see Weaker).
func (b *Backend) Weaker() []string { return append([]string(nil), Weaker...) }

// Layers names what every run has in force: "Landlock ABI 7", "seccomp
// (no user namespaces: …)".
func (b *Backend) Layers() []string {
	last := "seccomp"
	if b.opts.Reason != "" {
		last += " (" + b.opts.Reason + ")"
	}
	return []string{landlock.Layer(landlock.ABI()), last}
}

// Check reports why the backend cannot run here.
func (b *Backend) Check(ctx context.Context) error {
	if abi := landlock.ABI(); abi < MinABI {
		if abi == 0 {
			return errors.New("the Landlock backend needs Landlock, which this kernel lacks (Linux 6.12+ with lsm=landlock)")
		}
		return fmt.Errorf("the Landlock backend needs Landlock ABI %d (Linux 6.12+) to hold a run's processes together; this kernel has ABI %d", MinABI, abi)
	}
	avail, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil || !strings.Contains(string(avail), "user_notif") {
		return errors.New("the Landlock backend needs seccomp user notification (Linux 5.5+)")
	}
	_, err = b.initPath()
	return err
}

func (b *Backend) initPath() (string, error) {
	if b.opts.Init != "" {
		return b.opts.Init, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locating the cordon binary: %w", err)
	}
	return p, nil
}

// Start sets the sandbox up and starts the command; it returns once the
// stage has handed off (the sandbox is in force). Any error means nothing
// ran.
func (b *Backend) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Process, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	p := spec.Policy
	if p.StateDir == "" {
		return nil, errors.New("the Landlock backend needs cordon's state directory for the run's private temp dir")
	}
	if p.Limits.Processes > 0 && hostRoot() {
		return nil, errors.New("limits.processes cannot be enforced when cordon runs as root (RLIMIT_NPROC does not apply to root)")
	}
	if err := b.Check(ctx); err != nil {
		return nil, err
	}
	initPath, _ := b.initPath()
	dir := spec.Dir
	if dir == "" {
		dir = p.Root
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("working directory %q is not absolute", dir)
	}
	fsPlan, err := linux.PlanStandalone(p, linux.StandaloneOptions{Guard: true})
	if err != nil {
		return nil, fmt.Errorf("the Landlock backend cannot enforce this policy: %w; nothing was run", err)
	}
	now := time.Now()
	_ = os.Chtimes(fsPlan.TempDir, now, now) // in use: not old
	rules := hostRules(fsPlan.Rules)

	r := &run{b: b, spec: spec, judge: fsPlan.Judge, fs: fsPlan, done: make(chan struct{})}
	if err := r.start(ctx, initPath, dir, rules); err != nil {
		r.cleanup()
		return nil, err
	}
	return r, nil
}

// hostRules adapts the plan's ruleset to the host's namespaces: /proc is
// the host's (writable nowhere: under bwrap it is the sandbox's own), TCP
// connect is refused to the command itself (the supervisor makes every
// connection), and the ruleset is required whole.
func hostRules(r landlock.Rules) landlock.Rules {
	var files []string
	for _, f := range r.WriteFiles {
		if f != "/proc" {
			files = append(files, f)
		}
	}
	r.WriteFiles = files
	r.LimitConnect, r.ConnectPorts = true, nil
	r.Scope, r.Require = true, true
	return r
}

// hostRoot reports whether this process is root of the host's user
// namespace, whose processes RLIMIT_NPROC does not count. Root of a user
// namespace of its own (uid 0 mapped to another user) is counted.
func hostRoot() bool {
	if os.Geteuid() != 0 {
		return false
	}
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "0" {
			return f[1] == "0"
		}
	}
	return true
}

// run is one running sandbox.
type run struct {
	b     *Backend
	spec  sandbox.Spec
	judge *supervisor.Judge
	fs    *linux.Standalone

	cmd      *exec.Cmd
	obs      *supervisor.Observer
	listener *net.TCPListener
	pipes    []*os.File      // write ends of the output pipes, until the children have them
	copies   []chan struct{} // closed when each output copy is done
	timer    *time.Timer
	done     chan struct{}
	closers  []io.Closer

	waitOnce sync.Once
	res      *sandbox.Result
	err      error

	mu       sync.Mutex
	timedOut bool
	killed   bool
}

func (r *run) start(ctx context.Context, initPath, dir string, rules landlock.Rules) error {
	p := r.spec.Policy
	allowUnix := len(p.Network.AllowUnixSockets) > 0
	filter, err := seccomp.Program(seccomp.Options{AllowUnixSockets: allowUnix, HostNetwork: true})
	if err != nil {
		return err
	}
	filterFile, err := dataFile("cordon-seccomp", seccomp.Bytes(filter))
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	defer filterFile.Close()

	env := r.fs.CommandEnv(r.spec.Env, p)
	capture := &netinside.Supervisor{Host: true, Logger: r.b.opts.Logger}
	if n := r.spec.Network; n != nil {
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return fmt.Errorf("capture listener: %w", err)
		}
		r.listener = ln
		capture.Listener = ln
		capture.Bridge = ln.Addr().(*net.TCPAddr).AddrPort()
		capture.Bridge = netip.AddrPortFrom(capture.Bridge.Addr().Unmap(), capture.Bridge.Port())
		capture.ServeProxy = n.Serve
		sock := n.ProxySocket
		capture.DialProxy = func(ctx context.Context) (*net.UnixConn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", sock)
			if err != nil {
				return nil, err
			}
			return c.(*net.UnixConn), nil
		}
		env = proxyenv.Env(env, int(capture.Bridge.Port()), initPath)
	}
	envFile, err := dataFile("cordon-env", initstage.EncodeEnv(env))
	if err != nil {
		return fmt.Errorf("command environment: %w", err)
	}
	defer envFile.Close()

	control, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	hostEnd := os.NewFile(uintptr(control[0]), "cordon-control")
	defer hostEnd.Close()
	initEnd := os.NewFile(uintptr(control[1]), "cordon-control-init")
	defer initEnd.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()

	stdout, stderr, err := r.outputs()
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	// Descriptors as the stage numbers them (initstage.FD*): no image
	// here, /dev/null in its place; the environment and the command's
	// stderr follow.
	extra := make([]*os.File, initstage.FDImage-2)
	extra[initstage.FDSeccomp-3], extra[initstage.FDControl-3], extra[initstage.FDImage-3] = filterFile, initEnd, null
	envFD, stderrFD := 3+len(extra), 4+len(extra)
	extra = append(extra, envFile, stderr)
	cfg := initstage.Config{
		Memory: p.Limits.Memory, Processes: p.Limits.Processes,
		Observe: true, Self: initPath, Guard: len(r.judge.Guarded) > 0, UnixConnect: allowUnix,
		Landlock: &rules, TTY: r.spec.TTY,
		Seccomp: initstage.FDSeccomp, DropCaps: true, NetConnect: true, Standalone: true, Parent: os.Getpid(),
		Env: envFD, Stderr: stderrFD,
	}
	cmd := exec.Command(initPath, append([]string{initstage.KeeperArg, cfg.Encode(), "--"}, r.spec.Argv...)...)
	cmd.Args[0] = "cordon-keeper"
	cmd.Env = sandbox.HostEnv()
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.spec.Stdin, stdout, null
	if cmd.Stdin == nil {
		cmd.Stdin = bytes.NewReader(nil)
	}
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	r.cmd = cmd
	initEnd.Close()
	r.closePipes()

	h, fds, err := receiveHandoff(hostEnd)
	if err == nil && h.Error != "" {
		err = errors.New(h.Error)
	}
	if err == nil && (!h.Observer || len(fds) == 0) {
		err = errors.New("the init stage handed over no supervisor")
	}
	if err != nil {
		closeFDs(fds)
		_ = cmd.Process.Signal(initstage.KillSignal)
		werr := cmd.Wait()
		r.waitCopies()
		if ee, ok := werr.(*exec.ExitError); ok && err == errNoHandoff {
			err = fmt.Errorf("the sandbox exited with status %d before the command started", ee.ExitCode())
		}
		return fmt.Errorf("the sandbox could not be set up: %v; nothing was run", err)
	}
	closeFDs(fds[:len(fds)-1])
	r.obs = supervisor.StartObserver(fds[len(fds)-1], r.judge, capture, &r.b.guards)

	timeout := r.spec.Timeout
	if timeout == 0 {
		timeout = p.Limits.Timeout
	}
	r.timer = sandbox.EndRun(ctx, timeout, r.done, func() {
		r.mu.Lock()
		r.timedOut = true
		r.mu.Unlock()
	}, r.Kill)
	return nil
}

// outputs are the descriptors the command's stdout and stderr go to:
// the caller's files, or pipes copied to its writers (one pipe when both
// are one writer, as os/exec does, so the order of writes is kept).
func (r *run) outputs() (stdout, stderr *os.File, err error) {
	open := func(w io.Writer) (*os.File, error) {
		switch w := w.(type) {
		case *os.File:
			return w, nil
		case nil:
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err == nil {
				r.closers = append(r.closers, f)
			}
			return f, err
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		r.pipes = append(r.pipes, pw)
		done := make(chan struct{})
		r.copies = append(r.copies, done)
		go func() {
			defer close(done)
			defer pr.Close()
			_, _ = io.Copy(w, pr)
		}()
		return pw, nil
	}
	if stdout, err = open(r.spec.Stdout); err != nil {
		return nil, nil, err
	}
	if sameWriter(r.spec.Stdout, r.spec.Stderr) {
		return stdout, stdout, nil
	}
	stderr, err = open(r.spec.Stderr)
	return stdout, stderr, err
}

// sameWriter is a == b, false for writers that are not comparable.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() { _ = recover() }()
	return a != nil && a == b
}

// closePipes drops this process's write ends once the children hold
// theirs, so the copies end with the run.
func (r *run) closePipes() {
	for _, f := range r.pipes {
		f.Close()
	}
	r.pipes = nil
}

func (r *run) waitCopies() {
	for _, c := range r.copies {
		<-c
	}
}

var errNoHandoff = errors.New("no hand-off")

// receiveHandoff reads the stage's one message and the descriptors it
// carries.
func receiveHandoff(control *os.File) (initstage.Handoff, []int, error) {
	var h initstage.Handoff
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(8*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(control.Fd()), buf, oob, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return h, nil, errNoHandoff
		}
		var fds []int
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil {
				for _, m := range msgs {
					if r, err := unix.ParseUnixRights(&m); err == nil {
						fds = append(fds, r...)
					}
				}
			}
		}
		if err := json.Unmarshal(buf[:n], &h); err != nil {
			return h, fds, fmt.Errorf("hand-off: %w", err)
		}
		return h, fds, nil
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func (r *run) cleanup() {
	r.closePipes()
	if r.listener != nil {
		r.listener.Close()
	}
	for _, c := range r.closers {
		c.Close()
	}
}

func (r *run) Wait() (*sandbox.Result, error) {
	r.waitOnce.Do(func() {
		err := r.cmd.Wait()
		close(r.done)
		if r.timer != nil {
			r.timer.Stop()
		}
		r.waitCopies()
		res := &sandbox.Result{}
		if r.obs != nil {
			res.Violations = r.obs.Stop()
		}
		r.cleanup()
		var werr error
		if res.ExitCode, res.Signal, werr = sandbox.ExitStatus(err); werr != nil {
			r.err = werr
			return
		}
		r.mu.Lock()
		res.TimedOut = r.timedOut
		if r.killed && res.Signal == 0 {
			res.Signal, res.ExitCode = int(syscall.SIGKILL), 128+int(syscall.SIGKILL)
		}
		r.mu.Unlock()
		r.res = res
	})
	return r.res, r.err
}

// Signal delivers sig to the command's process group (the keeper
// forwards it); SIGKILL ends the run.
func (r *run) Signal(sig os.Signal) error {
	if sig == syscall.SIGKILL {
		return r.Kill()
	}
	err := r.cmd.Process.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// Kill ends every process of the run: the keeper kills its domain and
// exits. A keeper that does not (it cannot be signalled from inside, so
// this is a stuck machine) is killed itself after a while.
func (r *run) Kill() error {
	r.mu.Lock()
	r.killed = true
	r.mu.Unlock()
	err := r.cmd.Process.Signal(initstage.KillSignal)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	go func() {
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
		}
	}()
	return err
}

// dataFile returns a readable file holding data (a memfd).
func dataFile(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

var _ sandbox.Layered = (*Backend)(nil)
