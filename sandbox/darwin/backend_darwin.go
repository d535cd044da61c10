//go:build darwin

package darwin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
)

// Options configure the backend.
type Options struct {
	// Self is the cordon binary, for `cordon connect` inside (git over
	// ssh); default os.Executable().
	Self   string
	Logger *slog.Logger
}

// Backend is the seatbelt backend.
type Backend struct{ opts Options }

// New returns the seatbelt backend.
func New(opts Options) *Backend {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Backend{opts: opts}
}

func (b *Backend) Name() string { return "seatbelt" }

// Check reports why the backend cannot run here.
func (b *Backend) Check(ctx context.Context) error {
	fi, err := os.Stat(SandboxExec)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is missing: this macOS cannot run seatbelt sandboxes (see cordon doctor)", SandboxExec)
	}
	return nil
}

// Start builds the profile and starts the command under it. Any error
// means nothing ran.
func (b *Backend) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Process, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	p := spec.Policy
	if err := b.Check(ctx); err != nil {
		return nil, err
	}
	// Fail closed on what seatbelt cannot hold: macOS has no per-run
	// memory or process-count limit a sandboxed command cannot escape.
	if p.Limits.Memory > 0 {
		return nil, fmt.Errorf("limits.memory (%s) cannot be enforced by the seatbelt backend", p.LimitSources["memory"])
	}
	if p.Limits.Processes > 0 {
		return nil, fmt.Errorf("limits.processes (%s) cannot be enforced by the seatbelt backend", p.LimitSources["processes"])
	}
	dir := spec.Dir
	if dir == "" {
		dir = p.Root
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("working directory %q is not absolute", dir)
	}
	self := b.opts.Self
	if self == "" {
		self, _ = os.Executable()
	}
	key := shortHash(p.Root)
	tempDir, err := privateDir(filepath.Join(os.TempDir(), fmt.Sprintf("cordon-%d", os.Getuid())), "tmp-"+key)
	if err != nil {
		return nil, fmt.Errorf("private temp dir: %w", err)
	}
	home := p.Home
	if home == "" {
		return nil, errors.New("no home directory for the cache directory")
	}
	cacheDir, err := privateDir(filepath.Join(home, "Library", "Caches", "cordon"), "ws-"+key)
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	for _, d := range CacheDirs(cacheDir) {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
	}
	var tagBytes [8]byte
	if _, err := rand.Read(tagBytes[:]); err != nil {
		return nil, err
	}
	tag := "cordon-run-" + hex.EncodeToString(tagBytes[:])

	var ln net.Listener
	port := 0
	if spec.Network != nil {
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("proxy listener: %w", err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
	}
	fail := func(err error) (sandbox.Process, error) {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	in := Input{Policy: p, Tag: tag, TempDir: tempDir, CacheDir: cacheDir, ProxyPort: port, Found: Survey(p)}
	if spec.Network != nil {
		in.MirrorPorts = spec.Network.MirrorPorts
	}
	profile, err := Profile(in)
	if err != nil {
		return fail(fmt.Errorf("seatbelt profile: %w", err))
	}
	argv, err := Argv(profile, CommandEnv(spec.Env, p, tempDir, cacheDir, port, self), spec.Argv)
	if err != nil {
		return fail(err)
	}

	watch := startLogWatch(tag, judge{pol: p}, b.opts.Logger)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = hostEnv
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, spec.Stdout, spec.Stderr
	if cmd.Stdin == nil {
		cmd.Stdin = bytes.NewReader(nil)
	}
	// Its own process group, so that a signal or the end of the run
	// reaches everything it started that stayed in the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		watch.stop(0)
		return fail(fmt.Errorf("starting %s: %w", SandboxExec, err))
	}
	pr := &process{cmd: cmd, ln: ln, watch: watch, done: make(chan struct{})}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = p.Limits.Timeout
	}
	pr.timer = sandbox.EndRun(ctx, timeout, pr.done, func() {
		pr.mu.Lock()
		pr.timedOut = true
		pr.mu.Unlock()
	}, pr.Kill)
	if ln != nil {
		go serve(ln, spec.Network, b.opts.Logger)
	}
	return pr, nil
}

// serve hands each connection to the run's proxy: in process when the
// caller serves it, else relayed to the proxy's unix socket.
func serve(ln net.Listener, nw *sandbox.Network, logger *slog.Logger) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if nw.Serve != nil {
			go nw.Serve(c)
			continue
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("unix", nw.ProxySocket)
			if err != nil {
				logger.Warn("proxy", "err", err)
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(up, c); done <- struct{}{} }()
			go func() { io.Copy(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}

// privateDir makes base (0700, ours) and name inside it, refusing a base
// that is a symlink, someone else's, or open to others.
func privateDir(base, name string) (string, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(base, &st); err != nil {
		return "", err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR || int(st.Uid) != os.Getuid() || st.Mode&0o077 != 0 {
		return "", fmt.Errorf("%s is not a private directory of ours: refusing to use it", base)
	}
	dir := filepath.Join(base, name)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	if err := syscall.Lstat(dir, &st); err != nil {
		return "", err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR || int(st.Uid) != os.Getuid() {
		return "", fmt.Errorf("%s is not a directory of ours: refusing to use it", dir)
	}
	// Seatbelt judges resolved paths: /var/folders is /private/var/folders.
	return filepath.EvalSymlinks(dir)
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// logWatch reads the run's deny reports from the unified log.
type logWatch struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	reports []sandbox.Violation
	seen    map[string]bool
	last    time.Time
	done    chan struct{}
	j       judge
}

// startLogWatch starts `log stream` for the run's tag and waits (briefly)
// until it streams. When the log cannot be read, the run goes on
// unreported: violations are a report, not the enforcement.
func startLogWatch(tag string, j judge, logger *slog.Logger) *logWatch {
	w := &logWatch{seen: map[string]bool{}, done: make(chan struct{}), j: j}
	cmd := exec.Command(LogCommand, LogArgs(tag)...)
	cmd.Env = hostEnv
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		logger.Warn("blocked accesses will not be reported: the unified log cannot be read", "err", err)
		close(w.done)
		return w
	}
	w.cmd = cmd
	ready := make(chan struct{})
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				close(ready)
				first = false
			}
			r, ok := ParseLogLine(sc.Bytes(), tag)
			w.mu.Lock()
			w.last = time.Now()
			if ok && !w.seen[string(r.Kind)+"\x00"+r.Target] {
				w.seen[string(r.Kind)+"\x00"+r.Target] = true
				w.reports = append(w.reports, j.violation(r, "", ""))
			}
			w.mu.Unlock()
		}
		if first {
			close(ready)
		}
		cmd.Wait()
	}()
	// `log stream` prints a header line once it is filtering.
	select {
	case <-ready:
	case <-time.After(2 * time.Second):
		logger.Warn("the unified log did not start streaming in 2s: early blocked accesses may go unreported")
	}
	return w
}

// stop ends the watch once the log has been quiet for a moment (reports
// arrive shortly after the denial), at most after grace.
func (w *logWatch) stop(grace time.Duration) []sandbox.Violation {
	if w.cmd != nil {
		deadline := time.Now().Add(grace)
		for time.Now().Before(deadline) {
			w.mu.Lock()
			quiet := time.Since(w.last) > 200*time.Millisecond
			w.mu.Unlock()
			if quiet {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if grace > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		w.cmd.Process.Kill()
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sandbox.Violation(nil), w.reports...)
}

// process is one running sandboxed command.
type process struct {
	cmd      *exec.Cmd
	ln       net.Listener
	watch    *logWatch
	timer    *time.Timer
	done     chan struct{}
	mu       sync.Mutex
	timedOut bool
	waitOnce sync.Once
	res      *sandbox.Result
	err      error
}

func (p *process) Wait() (*sandbox.Result, error) {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		// Nothing outlives its run: whatever stayed in the process group.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		close(p.done)
		if p.timer != nil {
			p.timer.Stop()
		}
		if p.ln != nil {
			p.ln.Close()
		}
		res := &sandbox.Result{}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				res.Signal = int(ws.Signal())
				res.ExitCode = 128 + res.Signal
			} else {
				res.ExitCode = ee.ExitCode()
			}
		default:
			p.err = err
			return
		}
		p.mu.Lock()
		res.TimedOut = p.timedOut
		p.mu.Unlock()
		res.Violations = p.watch.stop(time.Second)
		p.res = res
	})
	return p.res, p.err
}

func (p *process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	return syscall.Kill(-p.cmd.Process.Pid, s)
}

func (p *process) Kill() error {
	return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}
