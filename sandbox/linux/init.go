//go:build linux

package linux

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"github.com/cordon-dev/cordon/sandbox/netinside"
	"golang.org/x/sys/unix"
)

// InitArg is the hidden subcommand that runs the init stage: cordon
// re-executes itself inside bwrap as `cordon __init CONFIG -- ARGV...`.
const InitArg = "__init"

// initConfig is what the host tells the init.
type initConfig struct {
	Network   bool  `json:"net,omitempty"`
	Observe   bool  `json:"observe,omitempty"` // hand a write observer to the host
	Mirror    []int `json:"mirror,omitempty"`  // host loopback ports mirrored onto the sandbox's loopback
	Memory    int64 `json:"mem,omitempty"`
	Processes int   `json:"nproc,omitempty"`
}

func (c initConfig) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// handoff is the init's message to the host with the listeners it made.
type handoff struct {
	Proxy    int    `json:"proxy"`              // port of the proxy listener on 127.0.0.1
	Mirror   []int  `json:"mirror,omitempty"`   // ports, in the order of the passed descriptors after the proxy's
	Observer bool   `json:"observer,omitempty"` // the last descriptor is the write observer's listener
	Capture  bool   `json:"capture,omitempty"`  // before the observer's: the capture listener and the DNS socket
	Error    string `json:"error,omitempty"`
}

// InitMain runs inside the sandbox (seccomp already loaded by bwrap, no
// capabilities): it sets the resource limits, opens the loopback
// listeners of the network bridge and hands them to the host, then
// becomes the command. It returns only on failure.
func InitMain(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "cordon: init: bad arguments")
		return 125
	}
	var cfg initConfig
	raw, err := base64.RawURLEncoding.DecodeString(args[0])
	if err == nil {
		err = json.Unmarshal(raw, &cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon: init: bad configuration:", err)
		return 125
	}
	argv := args[2:]
	// The observer filter must be installed on the thread that execs.
	runtime.LockOSThread()
	if err := setLimits(cfg); err != nil {
		return initFail(err)
	}
	env := os.Environ()
	var (
		msg handoff
		fds []int
	)
	if cfg.Network {
		var err error
		if msg, fds, err = openBridge(cfg); err != nil {
			return initFail(err)
		}
		env = netinside.Env(env, msg.Proxy, selfPath())
	}
	if cfg.Observe {
		fd, err := installObserver()
		if err != nil {
			return initFail(err)
		}
		fds, msg.Observer = append(fds, fd), true
	}
	b, _ := json.Marshal(msg)
	var rights []byte
	if len(fds) > 0 {
		rights = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(fdControl, b, rights, nil, 0); err != nil {
		return initFail(fmt.Errorf("handing the bridge to the host: %w", err))
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	unix.Close(fdControl)
	// The command inherits none of cordon's descriptors.
	for fd := fdSeccomp; fd <= fdControl; fd++ {
		unix.CloseOnExec(fd)
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

func initFail(err error) int {
	// Tell the host, which is waiting for the hand-off, then fail.
	b, _ := json.Marshal(handoff{Error: err.Error()})
	_ = unix.Sendmsg(fdControl, b, nil, nil, 0)
	fmt.Fprintln(os.Stderr, "cordon: sandbox init:", err)
	return 125
}

func setLimits(cfg initConfig) error {
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

// openBridge listens on the sandbox's own loopback and passes the
// listeners to the host, which relays every connection to the run's proxy.
// Nothing inside ever needs a unix socket of its own.
func openBridge(cfg initConfig) (handoff, []int, error) {
	var files []*os.File
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return handoff{}, nil, fmt.Errorf("bridge listener: %w", err)
	}
	f, err := ln.File()
	if err != nil {
		return handoff{}, nil, err
	}
	files = append(files, f)
	msg := handoff{Proxy: ln.Addr().(*net.TCPAddr).Port}
	for _, port := range cfg.Mirror {
		for _, ip := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
			l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
			if err != nil {
				if ip.To4() == nil {
					continue // no IPv6 loopback in this namespace
				}
				return handoff{}, nil, fmt.Errorf("mirror of localhost:%d: %w", port, err)
			}
			lf, err := l.File()
			if err != nil {
				return handoff{}, nil, err
			}
			files = append(files, lf)
			msg.Mirror = append(msg.Mirror, port)
		}
	}
	if cfg.Observe {
		// The connect() capture (netinside): a listener and a DNS socket
		// on this namespace's loopback, served by the host.
		cl, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return handoff{}, nil, fmt.Errorf("capture listener: %w", err)
		}
		dns, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return handoff{}, nil, fmt.Errorf("dns socket: %w", err)
		}
		cf, err := cl.File()
		if err != nil {
			return handoff{}, nil, err
		}
		df, err := dns.File()
		if err != nil {
			return handoff{}, nil, err
		}
		files = append(files, cf, df)
		msg.Capture = true
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return msg, fds, nil
}

func selfPath() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "cordon"
}

func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath resolves name on the command's PATH, not the init's.
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
	return "", exec.ErrNotFound
}
