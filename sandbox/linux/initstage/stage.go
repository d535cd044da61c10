//go:build linux

// Package initstage is the first program of cordon's to run inside the
// sandbox, between bwrap and the command: it sets the resource limits,
// opens the loopback listeners of the network bridge, installs the write
// observer, hands all of them to the host and execs the command.
//
// It runs once per command, so what it links is what every command pays
// at start-up: it imports neither net nor anything of the host side, and
// the cordon binary carries it as a separate small image (see
// sandbox/linux/initimage) besides being able to run it itself.
package initstage

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/proxyenv"
	"github.com/cordon-dev/cordon/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// Arg is the hidden subcommand of the stage: inside bwrap the sandbox runs
// `INIT __init CONFIG -- ARGV...`, INIT being the small image or cordon.
const Arg = "__init"

// Descriptors bwrap and the stage inherit: os/exec maps ExtraFiles[i] to 3+i.
const (
	FDSeccomp = 3 // read by bwrap --seccomp
	FDControl = 4 // the stage's end of the control socketpair (the hand-off)
	FDImage   = 5 // the stage's own image, when it runs from one
)

// Config is what the host tells the stage.
type Config struct {
	Network   bool   `json:"net,omitempty"`
	Observe   bool   `json:"observe,omitempty"` // hand a write observer to the host
	Mirror    []int  `json:"mirror,omitempty"`  // host loopback ports mirrored onto the sandbox's loopback
	Publish   bool   `json:"publish,omitempty"` // start the connector (ports published on the host's loopback)
	Memory    int64  `json:"mem,omitempty"`
	Processes int    `json:"nproc,omitempty"`
	Self      string `json:"self,omitempty"`  // the cordon binary as seen inside, for `cordon connect`
	Guard     bool   `json:"guard,omitempty"` // the observer makes every new name (seccomp.ObserverOptions)
	// UnixConnect: the observer gets every connect() (allow_unix_sockets).
	UnixConnect bool `json:"unixConnect,omitempty"`
	// Env is the descriptor holding the command's environment
	// (EncodeEnv); 0: the stage's own. The host passes it this way so that
	// no host-side process (bwrap) ever runs with it.
	Env int `json:"env,omitempty"`
	// Stderr is the descriptor of the command's stderr, put on 2 once the
	// sandbox is set up (until then 2 is bwrap's, which the host reads);
	// 0: 2 is the command's already.
	Stderr int `json:"stderr,omitempty"`
	// Landlock is the second layer of the filesystem policy, enforced
	// under the mounts (see package landlock); it also makes bind() of a
	// pathname unix socket fail unless the policy allows unix sockets: a
	// stream socketpair end (which seccomp lets through) could otherwise
	// bind a name, a file in the workspace no observer sees made.
	// Without Landlock in the kernel the run goes on without the layer
	// (the mounts hold the same policy), and the hand-off says so.
	Landlock *landlock.Rules `json:"ll,omitempty"`
	// LoopbackOnly: refuse to run unless the network namespace has only
	// lo, a check under bwrap's --unshare-net.
	LoopbackOnly bool `json:"lo,omitempty"`
	TTY          bool `json:"tty,omitempty"` // standard input is the run's own pty: make it the controlling terminal

	// The backend without namespaces (package hostns), which has no bwrap
	// to do these: Seccomp is the descriptor of the enforcing filter
	// (seccomp.Bytes) the stage loads itself; DropCaps empties every
	// capability set, the bounding set included, and locks root out of
	// regaining them on exec; NetConnect gives the observer every
	// connect() and listen() (seccomp.ObserverOptions.NetConnect).
	Seccomp    int  `json:"seccomp,omitempty"`
	DropCaps   bool `json:"dropCaps,omitempty"`
	NetConnect bool `json:"netConnect,omitempty"`
	// Standalone: the observer performs the write-intent calls Landlock
	// cannot judge without mounts (seccomp.ObserverOptions.Standalone).
	Standalone bool `json:"standalone,omitempty"`
	// Parent is the host process that started the keeper: when it is
	// already gone, the keeper refuses to start (see KeeperMain).
	Parent int `json:"parent,omitempty"`
}

// EncodeEnv is the form the command's environment takes in Config.Env's
// descriptor: each NAME=VALUE followed by a NUL.
func EncodeEnv(env []string) []byte {
	var b []byte
	for _, kv := range env {
		b = append(append(b, kv...), 0)
	}
	return b
}

// readEnv reads and closes the descriptor EncodeEnv's bytes were written to.
func readEnv(fd int) ([]string, error) {
	f := os.NewFile(uintptr(fd), "cordon-env")
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("command environment: %w", err)
	}
	b := make([]byte, st.Size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("command environment: %w", err)
	}
	var env []string
	for _, kv := range strings.Split(string(b), "\x00") {
		if kv != "" {
			env = append(env, kv)
		}
	}
	return env, nil
}

// Encode is the form Config takes on the stage's command line.
func (c Config) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeConfig reverses Encode.
func DecodeConfig(s string) (Config, error) {
	var c Config
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	return c, err
}

// Handoff is the stage's one message to the host, sent with the
// descriptors it made, in this order: the proxy listener, the mirrors,
// then (Connector) the connector's socket, then (Capture) the capture listener and the DNS socket, then
// (Observer) the observer's notification listener.
type Handoff struct {
	Proxy     int    `json:"proxy"`               // port of the proxy listener on 127.0.0.1
	Mirror    []int  `json:"mirror,omitempty"`    // ports, in the order of the descriptors after the proxy's
	Connector bool   `json:"connector,omitempty"` // after the mirrors: the connector's socket (startConnector)
	Observer  bool   `json:"observer,omitempty"`  // the last descriptor is the write observer's listener
	Capture   bool   `json:"capture,omitempty"`   // before the observer's: the capture listener and the DNS socket
	Landlock  int    `json:"landlock,omitempty"`  // the Landlock ABI in force; 0: no Landlock layer
	Error     string `json:"error,omitempty"`
}

// Main runs the stage with the arguments after Arg: CONFIG -- ARGV...
// It returns only on failure, with DESIGN's status (125: no sandbox,
// 126/127: the command cannot be run).
func Main(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "cordon: init: bad arguments")
		return 125
	}
	cfg, err := DecodeConfig(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon: init: bad configuration:", err)
		return 125
	}
	argv := args[2:]
	// The observer filter must be installed on the thread that execs.
	runtime.LockOSThread()
	if err := setLimits(cfg); err != nil {
		return fail(err)
	}
	env := os.Environ()
	if cfg.Env > 0 {
		if env, err = readEnv(cfg.Env); err != nil {
			return fail(err)
		}
	}
	var (
		msg Handoff
		fds []int
	)
	if cfg.Network {
		if msg, fds, err = openBridge(cfg); err != nil {
			return fail(err)
		}
		env = proxyenv.Env(env, msg.Proxy, cfg.Self)
	}
	if cfg.LoopbackOnly {
		if err := onlyLoopback(); err != nil {
			return fail(err)
		}
	}
	// Before the observer: nothing the ruleset's set-up does may wait for
	// a host that has not had the hand-off yet.
	if cfg.Landlock != nil {
		st, err := landlock.Restrict(*cfg.Landlock)
		if err != nil {
			return fail(err)
		}
		msg.Landlock = st.ABI
	}
	if cfg.DropCaps {
		if err := dropCapabilities(); err != nil {
			return fail(err)
		}
	}
	if cfg.Seccomp > 0 {
		if err := loadFilter(cfg.Seccomp); err != nil {
			return fail(err)
		}
	}
	if cfg.Observe {
		fd, err := installObserver(seccomp.ObserverOptions{Guard: cfg.Guard, UnixConnect: cfg.UnixConnect, NetConnect: cfg.NetConnect, Standalone: cfg.Standalone})
		if err != nil {
			return fail(err)
		}
		fds, msg.Observer = append(fds, fd), true
	}
	b, _ := json.Marshal(msg)
	var rights []byte
	if len(fds) > 0 {
		rights = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(FDControl, b, rights, nil, 0); err != nil {
		return fail(fmt.Errorf("handing the bridge to the host: %w", err))
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	unix.Close(FDControl)
	if cfg.Stderr > 0 {
		// The sandbox is set up: from here on, what goes to stderr is
		// the command's (and so are the stage's own last words).
		if err := unix.Dup3(cfg.Stderr, 2, 0); err != nil {
			return fail(fmt.Errorf("stderr: %w", err))
		}
		unix.Close(cfg.Stderr)
	}
	// The command inherits none of cordon's descriptors.
	for fd := FDSeccomp; fd <= FDImage; fd++ {
		unix.CloseOnExec(fd)
	}
	if cfg.Seccomp > FDImage {
		unix.CloseOnExec(cfg.Seccomp)
	}
	if cfg.TTY {
		// bwrap's --new-session put the sandbox in a session of its own
		// (led by its pid 1) with no controlling terminal. A session of
		// the command's own gets the run's pty as that terminal, so the
		// shell has job control and ^C reaches its foreground job.
		if _, err := unix.Setsid(); err != nil {
			fmt.Fprintln(os.Stderr, "cordon: init: a session for the terminal:", err)
			return 125
		}
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			fmt.Fprintln(os.Stderr, "cordon: init: the terminal:", err)
			return 125
		}
	}
	path, err := lookPath(argv[0], env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cordon: %s: %v\n", argv[0], err)
		return 127
	}
	err = syscall.Exec(path, argv, env)
	fmt.Fprintf(os.Stderr, "cordon: %s: %v\n", argv[0], err)
	return 126
}

func fail(err error) int {
	// Tell the host, which is waiting for the hand-off, then fail.
	b, _ := json.Marshal(Handoff{Error: err.Error()})
	_ = unix.Sendmsg(FDControl, b, nil, nil, 0)
	fmt.Fprintln(os.Stderr, "cordon: sandbox init:", err)
	return 125
}

func setLimits(cfg Config) error {
	if cfg.Memory > 0 {
		lim := &unix.Rlimit{Cur: uint64(cfg.Memory), Max: uint64(cfg.Memory)}
		if err := unix.Setrlimit(unix.RLIMIT_DATA, lim); err != nil {
			return fmt.Errorf("memory limit: %w", err)
		}
	}
	if cfg.Processes > 0 {
		lim := &unix.Rlimit{Cur: uint64(cfg.Processes), Max: uint64(cfg.Processes)}
		if err := unix.Setrlimit(unix.RLIMIT_NPROC, lim); err != nil {
			return fmt.Errorf("process limit: %w", err)
		}
	}
	return nil
}

var errNotFound = errors.New("executable file not found in $PATH")

// lookPath resolves name on the command's PATH, not the stage's.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range strings.Split(getenv(env, "PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errNotFound
}

func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
