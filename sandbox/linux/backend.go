//go:build linux

// Package linux is the bubblewrap backend: it turns a policy into bwrap
// arguments and a seccomp filter, runs the command through cordon's own
// init stage inside, and relays the sandbox's loopback proxy listener to
// the run's proxy on the host.
package linux

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/probe"
	"github.com/cordon-dev/cordon/sandbox/seccomp"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// Options configure the backend.
type Options struct {
	Bwrap string // path of bwrap; default looked up on PATH
	Init  string // the cordon binary to re-execute inside; default os.Executable()
	// InitImage is the init stage's own executable image (package
	// initimage). When set, the stage runs from it instead of from Init,
	// which then only names cordon for `cordon connect` inside.
	InitImage string
	Logger    *slog.Logger
}

// Backend is the bubblewrap backend.
type Backend struct {
	opts   Options
	image  imageFile
	guards supervisor.GuardPool
	test   testSwitches
}

// testSwitches turn layers off, for tests that show what the other
// layers hold alone. Only tests of this package set them.
type testSwitches struct {
	noMounts   bool // bwrap binds / writable and hides nothing: Landlock alone enforces the filesystem policy
	noLandlock bool // the stage enforces no Landlock ruleset
}

// New returns the bubblewrap backend.
func New(opts Options) *Backend {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Backend{opts: opts}
}

func (b *Backend) Name() string { return "bwrap" }

func (b *Backend) bwrap() (string, error) {
	if b.opts.Bwrap != "" {
		return b.opts.Bwrap, nil
	}
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return "", errors.New("bubblewrap (bwrap) is not installed: sudo apt-get install bubblewrap (see cordon doctor)")
	}
	return p, nil
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

// Check reports why the backend cannot run here.
func (b *Backend) Check(ctx context.Context) error {
	if _, err := b.bwrap(); err != nil {
		return err
	}
	_, err := b.initPath()
	return err
}

// runtimeDir is cordon's per-user scratch directory on the host:
// $XDG_RUNTIME_DIR/cordon or $TMPDIR/cordon-UID, 0700 and owned by us.
func runtimeDir() (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	dir := filepath.Join(base, "cordon")
	if base == "" || !filepath.IsAbs(base) {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("cordon-%d", os.Getuid()))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", err
	}
	if st.Uid != uint32(os.Getuid()) || st.Mode&0o077 != 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", fmt.Errorf("%s is not a private directory of ours (owner %d, mode %o): refusing to use it", dir, st.Uid, st.Mode&0o7777)
	}
	return dir, nil
}

// Start sets the sandbox up and starts the command. Any error means
// nothing ran.
func (b *Backend) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Process, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	p := spec.Policy
	if p.Limits.Processes > 0 && os.Geteuid() == 0 {
		// RLIMIT_NPROC does not apply to root's processes, and this backend
		// has no cgroup of its own to use instead: refuse rather than run
		// without the limit.
		return nil, fmt.Errorf("limits.processes (%s) cannot be enforced when cordon runs as root", limitSource(p))
	}
	bwrap, err := b.bwrap()
	if err != nil {
		return nil, err
	}
	initPath, err := b.initPath()
	if err != nil {
		return nil, err
	}
	dir := spec.Dir
	if dir == "" {
		dir = p.Root
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("working directory %q is not absolute", dir)
	}

	rt, err := runtimeDir()
	if err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	// The private /tmp of the workspace lives in cordon's state dir (hidden
	// inside every sandbox), kept across its runs; without a state dir, a
	// private $TMPDIR in the runtime dir, as before.
	tempDir, privateTmp := filepath.Join(rt, "tmp-"+shortHash(p.Root)), false
	if p.StateDir != "" {
		tempDir, privateTmp = filepath.Join(p.StateDir, "tmp", shortHash(p.Root)), true
		sweepTemps(filepath.Dir(tempDir), tempDir, b.opts.Logger)
	}
	if err := os.MkdirAll(tempDir, 0o700); err != nil {
		return nil, fmt.Errorf("private temp dir: %w", err)
	}
	now := time.Now()
	_ = os.Chtimes(tempDir, now, now) // in use: not old

	hidden := filepath.Join(rt, "hidden")
	if err := ensureHidden(hidden); err != nil {
		return nil, err
	}

	sc := scanner{}
	if p.StateDir != "" {
		sc.cacheDir = filepath.Join(p.StateDir, "scan")
	}
	pl, err := buildPlan(p, tempDir, sc)
	if err != nil {
		return nil, err
	}
	if pl.Layers, pl.LayerAliases, err = planLayers(p, LayerRoot(p)); err != nil {
		return nil, err
	}
	if privateTmp {
		exposed := []string{p.Home, initPath}
		if d := filepath.Dir(initPath); d != "/tmp" {
			exposed = append(exposed, d) // tools installed beside cordon
		}
		pl.privateTmp(tempDir, exposed)
	}
	// Nothing to undo past this point but the masks.
	masks, err := supervisor.MakeMasks(filepath.Join(rt, "masks"), pl.maskSpecs(p))
	if err != nil {
		return nil, err
	}
	if masks.Unwatched != nil {
		b.opts.Logger.Warn("reads of hidden paths are not reported in this run", "err", masks.Unwatched)
	}
	proc, err := b.start(ctx, spec, pl, startArgs{bwrap: bwrap, init: initPath, dir: dir, hidden: hidden, tempDir: tempDir, masks: masks})
	if err != nil {
		masks.Remove()
		return nil, err
	}
	return proc, nil
}

type startArgs struct {
	bwrap, init, dir, hidden, tempDir string
	masks                             *supervisor.Masks
}

func (b *Backend) start(ctx context.Context, spec sandbox.Spec, pl *plan, sa startArgs) (*process, error) {
	p := spec.Policy
	filter, err := seccomp.Program(seccomp.Options{AllowUnixSockets: len(p.Network.AllowUnixSockets) > 0})
	if err != nil {
		return nil, err
	}
	seccompFile, err := dataFile("cordon-seccomp", seccomp.Bytes(filter))
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	defer seccompFile.Close()
	control, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	hostEnd := os.NewFile(uintptr(control[0]), "cordon-control")
	initEnd := os.NewFile(uintptr(control[1]), "cordon-control-init")
	defer initEnd.Close()

	cfg := initstage.Config{Memory: p.Limits.Memory, Processes: p.Limits.Processes, Observe: true, Self: sa.init, Guard: len(pl.Guarded) > 0,
		LoopbackOnly: true, UnixConnect: len(p.Network.AllowUnixSockets) > 0}
	if !b.test.noLandlock {
		rules := pl.landlockRules(p)
		if b.test.noMounts && pl.PrivateTmp != "" {
			// Without the mounts nothing is bound at /tmp: the run's
			// temp dir is the private one where it lies on the host.
			for i, w := range rules.Writable {
				if w == "/tmp" {
					rules.Writable[i] = pl.PrivateTmp
				}
			}
		}
		if !b.test.noMounts {
			for _, id := range sa.masks.Identities() {
				rules.Masks = append(rules.Masks, landlock.Mask{Path: id.Path, Dev: id.Dev, Ino: id.Ino})
			}
		}
		cfg.Landlock = &rules
	}
	if spec.Network != nil {
		cfg.Network = true
		cfg.Mirror = spec.Network.MirrorPorts
		cfg.Publish = len(spec.Network.Publish) > 0
	}
	cfg.TTY = spec.TTY
	stage, extra := sa.init, []*os.File{seccompFile, initEnd}
	if img := b.stageImage(p.StateDir); img != nil {
		stage, extra = "/proc/self/fd/"+strconv.Itoa(initstage.FDImage), append(extra, img)
	}
	// The command's environment reaches the command only: bwrap runs with
	// sandbox.HostEnv, and the init stage reads this descriptor (not the
	// command line, which every local user can read in /proc).
	inside := sa.tempDir
	if pl.PrivateTmp != "" {
		inside = "/tmp"
	}
	envFile, err := dataFile("cordon-env", initstage.EncodeEnv(commandEnv(spec.Env, p, inside)))
	if err != nil {
		return nil, fmt.Errorf("command environment: %w", err)
	}
	defer envFile.Close()
	cfg.Env, extra = 3+len(extra), append(extra, envFile)
	pins, err := openPins(pl)
	if err != nil {
		return nil, err
	}
	defer closeFiles(pins)
	pinFDs := map[string]int{}
	for i, f := range pins {
		pinFDs[pl.Pinned[i]] = 3 + len(extra)
		extra = append(extra, f)
	}
	nested, err := openNested(pl)
	if err != nil {
		return nil, err
	}
	for w, f := range nested {
		defer f.Close()
		pinFDs[w] = 3 + len(extra)
		extra = append(extra, f)
	}
	setup, err := newSetupLog(spec.Stdout, spec.Stderr)
	if err != nil {
		return nil, fmt.Errorf("stderr: %w", err)
	}
	cfg.Stderr, extra = 3+len(extra), append(extra, setup.command)
	args := bwrapArgs(pl, argvOptions{
		Dir: sa.dir, Init: stage, Hidden: sa.hidden, Runtime: filepath.Dir(sa.hidden),
		InitConfig: cfg.Encode(), Argv: spec.Argv, PinFDs: pinFDs, NoMounts: b.test.noMounts, Masks: sa.masks,
		Layers: len(pl.Layers) > 0, UID: os.Getuid(), GID: os.Getgid(),
	})
	cmd := exec.Command(sa.bwrap, args...)
	if len(pl.Layers) > 0 {
		// The small image (or cordon) mounts the layers in a namespace of
		// its own and execs bwrap there (layers.go), both with HostEnv.
		helper := sa.init
		if stage != sa.init {
			helper = stage // the image, inherited as FDImage
		}
		la := initstage.LayersArgv(helper, sa.bwrap, pl.Layers, args)
		cmd = exec.Command(la[0], la[1:]...)
	}
	cmd.Env = sandbox.HostEnv()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, setup.stdout, setup.bwrap
	if cmd.Stdin == nil {
		cmd.Stdin = bytes.NewReader(nil)
	}
	cmd.ExtraFiles = extra
	// bwrap dies with us (Pdeathsig), and takes the sandbox with it
	// (--die-with-parent; its PID namespace ends with its init).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if len(pl.Layers) > 0 {
		// Root of this namespace only: the host's uid and gid, nothing else.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	err = cmd.Start()
	for try := 0; errors.Is(err, syscall.ETXTBSY) && try < 20; try++ {
		// The init image was written just now, and a child another
		// goroutine forked meanwhile may still hold
		// the write descriptor until its own exec: Go's fork-exec race
		// (golang/go#22315). It passes within milliseconds.
		time.Sleep(5 * time.Millisecond)
		again := *cmd
		again.Process, again.ProcessState = nil, nil
		cmd = exec.Command(again.Path, again.Args[1:]...)
		cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = again.Env, again.Stdin, again.Stdout, again.Stderr
		cmd.ExtraFiles, cmd.SysProcAttr = again.ExtraFiles, again.SysProcAttr
		err = cmd.Start()
	}
	setup.started()
	if err != nil {
		hostEnd.Close()
		if len(pl.Layers) > 0 && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EUSERS)) {
			return nil, fmt.Errorf("cannot make the user namespace for the cache layers (%v); nothing was run: %s", err, probe.UsernsFix())
		}
		return nil, fmt.Errorf("starting bwrap: %w", err)
	}
	pr := &process{cmd: cmd, done: make(chan struct{}), logger: b.opts.Logger, setup: setup, stderr: spec.Stderr, layers: pl.Layers, masks: sa.masks}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = p.Limits.Timeout
	}
	pr.timer = sandbox.EndRun(ctx, timeout, pr.done, func() {
		pr.mu.Lock()
		pr.timedOut = true
		pr.mu.Unlock()
	}, pr.Kill)
	pr.bridge = startBridge(hostEnd, spec.Network, b.opts.Logger, pl.judge(p), &b.guards)
	return pr, nil
}

// commandEnv is the environment the command starts with: the caller's,
// scrubbed of secret-looking names unless [env].pass names them, then
// [env].set, then TMPDIR.
func commandEnv(base []string, p *workspace.Policy, tempDir string) []string {
	pass := map[string]bool{}
	for _, e := range p.Env.Pass {
		pass[e.Name] = true
	}
	var env []string
	for _, kv := range base {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || (workspace.IsSecretEnv(k) && !pass[k]) {
			continue
		}
		switch k {
		case "TMPDIR", "TMP", "TEMP", "CORDON_PROXY":
			continue
		}
		env = append(env, kv)
	}
	for _, e := range p.Env.Set {
		env = append(env, e.Name+"="+e.Value)
	}
	return append(env, "TMPDIR="+tempDir, "TMP="+tempDir, "TEMP="+tempDir)
}

// openPins opens each pinned directory beneath its writable root through
// no symbolic link, for bwrap to bind from the descriptor (--bind-fd). A
// pin is a read-write bind inside a writable place: bound by path, a
// directory another run swapped for a link (x -> /etc) after the plan
// would make bwrap bind the link's target read-write. A pin that no
// longer resolves that way refuses the run: what it pinned changed under
// the set-up.
func openPins(pl *plan) ([]*os.File, error) {
	var out []*os.File
	for _, p := range pl.Pinned {
		fd, err := openBeneathRoot(p, pl.Writable)
		if err != nil {
			closeFiles(out)
			return nil, fmt.Errorf("pinning %s: %w (it changed while the sandbox was set up; run again)", p, err)
		}
		out = append(out, os.NewFile(uintptr(fd), p))
	}
	return out, nil
}

// openNested opens each writable place that lies inside another one
// (allow_write = ["~", "~/proj2"]) beneath it, through no link, for the
// same reason as pins: a run of another workspace, to which only the
// outer place is writable, could swap the inner one for a link to /etc.
func openNested(pl *plan) (map[string]*os.File, error) {
	out := map[string]*os.File{}
	for _, w := range pl.Writable {
		var others []string
		for _, o := range pl.Writable {
			if o != w {
				others = append(others, o)
			}
		}
		if supervisor.InnermostRoot(w, others) == "" {
			continue
		}
		fd, err := openBeneathRoot(w, others)
		if err != nil {
			for _, f := range out {
				f.Close()
			}
			return nil, fmt.Errorf("writable place %s: %w (it changed while the sandbox was set up; run again)", w, err)
		}
		out[w] = os.NewFile(uintptr(fd), w)
	}
	return out, nil
}

// openBeneathRoot opens the directory p (O_PATH) beneath the innermost
// writable root holding it, following no symbolic link below that root.
func openBeneathRoot(p string, writable []string) (int, error) {
	root := supervisor.InnermostRoot(p, writable)
	if root == "" {
		return -1, errors.New("not in a writable place")
	}
	rfd, err := supervisor.OpenRoot(root)
	if err != nil {
		// The root itself (resolved when the plan was made) may lie
		// below a link outside every writable place: open it as named.
		if rfd, err = unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return -1, err
		}
	}
	defer unix.Close(rfd)
	rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
	return supervisor.OpenBeneath(rfd, rel, unix.O_PATH|unix.O_DIRECTORY, 0)
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
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
	if _, err := f.Seek(0, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ensureHidden makes the empty, unreadable file bwrapArgs binds over a
// deny_read file that has no mask of its own.
func ensureHidden(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("hidden placeholder: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("hidden placeholder: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 {
		return fmt.Errorf("hidden placeholder %s is not an empty file", path)
	}
	if st.Mode&0o777 != 0 {
		return os.Chmod(path, 0)
	}
	return nil
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// process is one running sandbox.
type process struct {
	cmd      *exec.Cmd
	setup    *setupLog
	stderr   io.Writer // the command's
	bridge   *bridge
	layers   []layer // their per-run work directories go when the run ends
	masks    *supervisor.Masks
	timer    *time.Timer
	done     chan struct{}
	logger   *slog.Logger
	waitOnce sync.Once
	res      *sandbox.Result
	err      error

	mu       sync.Mutex
	timedOut bool
	killed   bool
	exited   bool // bwrap has ended (and is about to be reaped)
	// signalled: a signal was sent (it may have ended the run before the
	// command started, which is no failed set-up).
	signalled bool
}

func (p *process) Wait() (*sandbox.Result, error) {
	p.waitOnce.Do(func() {
		// Wait for bwrap's end without reaping it, so that Kill knows
		// when its process group may no longer be its own.
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, p.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		p.mu.Lock()
		p.exited = true
		p.mu.Unlock()
		err := p.cmd.Wait()
		close(p.done)
		if p.timer != nil {
			p.timer.Stop()
		}
		// The sandbox is gone: the hand-off is over and the observer has
		// seen every call.
		observed := append(p.bridge.violations(), p.masks.Stop()...)
		p.masks.Remove()
		p.bridge.close()
		removeWorkDirs(p.layers)
		res := &sandbox.Result{Violations: observed}
		var werr error
		if res.ExitCode, res.Signal, werr = sandbox.ExitStatus(err); werr != nil {
			p.err = werr
			return
		}
		p.mu.Lock()
		res.TimedOut = p.timedOut
		interrupted := p.killed || p.signalled
		if p.killed && res.Signal == 0 && res.ExitCode == 0 {
			res.Signal, res.ExitCode = int(syscall.SIGKILL), 128+int(syscall.SIGKILL)
		}
		p.mu.Unlock()
		// A run killed or signalled before it started is no failed set-up.
		if err := p.setup.finish(p.bridge.handedOff() || interrupted || res.Signal != 0, p.stderr, res.ExitCode); err != nil && p.bridge.failure() == nil {
			if strings.Contains(err.Error(), "namespace") {
				// bwrap could not make its namespaces: say how to allow them here.
				err = fmt.Errorf("%w; nothing was run: %s", err, probe.UsernsFix())
			}
			p.err = err
			return
		}
		if err := p.bridge.failure(); err != nil && res.ExitCode == 125 {
			p.err = err
			return
		}
		p.res = res
	})
	return p.res, p.err
}

// Signal delivers sig to the command's process group inside the sandbox
// (SIGKILL, or a command not yet or no longer there: to bwrap, which ends
// the whole run).
func (p *process) Signal(sig os.Signal) error {
	p.mu.Lock()
	p.signalled = true
	p.mu.Unlock()
	return signalCommand(p.cmd.Process, sig)
}

// Kill ends every process of the run: bwrap dies, its init takes the PID
// namespace with it.
func (p *process) Kill() error {
	p.mu.Lock()
	p.killed = true
	if !p.exited {
		// A kill that lands while bwrap is still making the sandbox, when
		// its child (the sandbox's init) has not yet set its own
		// parent-death signal, would leave that child to run the command
		// to its end: stop bwrap (so that it makes no more children),
		// then kill its children and its process group. bwrap is not
		// reaped yet (exited is set under p.mu before it is), and a
		// stopped bwrap reaps none of its children, so none of these
		// pids can be another process's.
		if p.cmd.Process.Signal(syscall.SIGSTOP) == nil {
			for _, c := range childrenOf(p.cmd.Process.Pid) {
				_ = syscall.Kill(c, syscall.SIGKILL)
			}
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	p.mu.Unlock()
	err := p.cmd.Process.Signal(syscall.SIGKILL)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func limitSource(p *workspace.Policy) string {
	for _, f := range []string{p.File, p.UserFile} {
		if f != "" {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "processes") {
				return f
			}
		}
	}
	return "policy"
}
