//go:build linux

package hostns

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// env is a workspace and home for launcher runs, owned by the user the
// launcher runs as (nil: ourselves).
type env struct {
	t             *testing.T
	user          *sandboxtest.User
	bin, ws, home string
	proxy         string // the proxy socket, "-": none
}

func newEnv(t *testing.T, u *sandboxtest.User) *env {
	t.Helper()
	if landlock.ABI() < MinABI {
		// Every CI machine of the project has ABI 7 (kernel 6.18): this
		// only holds on an older developer machine.
		sandboxtest.Skip(t, "this kernel's Landlock cannot hold a run together")
	}
	base := sandboxtest.Dir(t, u)
	e := &env{t: t, user: u, ws: filepath.Join(base, "ws"), home: filepath.Join(base, "home"), proxy: "-"}
	for _, d := range []string{e.ws, e.home, filepath.Join(base, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.bin = sandboxtest.Executable(t, filepath.Join(base, "bin"))
	if u != nil {
		sandboxtest.Chown(t, base, u)
	}
	return e
}

func asRootAndUser(t *testing.T, f func(t *testing.T, u *sandboxtest.User)) {
	t.Run("root", func(t *testing.T) {
		sandboxtest.RequireRoot(t)
		f(t, nil)
	})
	t.Run("user", func(t *testing.T) { f(t, sandboxtest.Unprivileged(t)) })
}

// launch starts the launcher on a shell script, in a session of its own.
func (e *env) launch(out io.Writer, script string) *exec.Cmd {
	e.t.Helper()
	args := []string{launchArg, e.ws, e.home, e.proxy, "--", "sh", "-c", script}
	var cmd *exec.Cmd
	if e.user != nil {
		cmd = e.user.Command(e.home, e.bin, args...)
	} else {
		cmd = exec.Command(e.bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+e.home)
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.Dir = e.ws
	cmd.Stdout, cmd.Stderr = out, out
	// Processes a broken run left behind may hold the output pipe open:
	// Wait must still return.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	// Killed, not waited for: the test may be waiting for it already (run's
	// Within gives up on a run that never ends and the test fails), and a
	// second Wait alongside the first would block for ever, which the
	// mutation gate took for a hang.
	e.t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// run runs script to its end and returns what it printed.
func (e *env) run(script string) (string, int) {
	e.t.Helper()
	var out bytes.Buffer
	cmd := e.launch(&out, script)
	code := 0
	// A run here ends within seconds: one that does not has left
	// processes behind (the keeper waits for all of them).
	sandboxtest.Within(e.t, 30*time.Second, "the run", func() {
		if err := cmd.Wait(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
		}
	})
	return out.String(), code
}

func want(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("want %q in:\n%s", w, got)
		}
	}
}

func gone(t *testing.T, secs string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(sandboxtest.Procs("sleep", secs)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of the run outlived it", len(sandboxtest.Procs("sleep", secs)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// escape starts processes that leave the command's process group and
// session or ignore the polite signals, and says each one is alive (the
// positive control), then tries to kill the keeper (its parent's parent
// chain is the keeper: $PPID of the shell).
const escape = `cd "$TMPDIR"; rm -f bg*
(sh -c 'echo $$ > bg1; exec sleep SECS' &)
nohup sh -c 'echo $$ > bg2; exec sleep SECS' >/dev/null 2>&1 &
setsid sh -c 'echo $$ > bg3; exec sleep SECS' &
setsid sh -c 'trap "" TERM HUP; echo $$ > bg4; sleep SECS; :' &
while ! [ -s bg1 ] || ! [ -s bg2 ] || ! [ -s bg3 ] || ! [ -s bg4 ]; do sleep 0.05; done
for f in bg1 bg2 bg3 bg4; do kill -0 "$(cat $f)" && echo "alive $f"; done
kill -9 $PPID 2>&1 && echo "keeper killed"; echo "keeper kill: $?"
`

// TestEveryProcessDies: without a PID namespace, what leaves the process
// group or session, daemonises, or ignores SIGTERM still dies when the
// command ends, and when the run is killed; the command cannot kill the
// keeper that holds the run together (Landlock scoping).
func TestEveryProcessDies(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newEnv(t, u)
		secs := sandboxtest.Marker(11)
		out, code := e.run(strings.ReplaceAll(escape, "SECS", secs))
		want(t, out, "alive bg1", "alive bg2", "alive bg3", "alive bg4", "Operation not permitted")
		if strings.Contains(out, "keeper killed") || code != 0 {
			t.Errorf("exit %d:\n%s", code, out)
		}
		gone(t, secs)

		// Killed from the host while the command still runs.
		secs = sandboxtest.Marker(12)
		var buf syncBuffer
		cmd := e.launch(&buf, strings.ReplaceAll(escape, "SECS", secs)+"echo ready; sleep "+secs)
		deadline := time.Now().Add(sandboxtest.Wait)
		for !strings.Contains(buf.String(), "ready") {
			if time.Now().After(deadline) {
				t.Fatalf("never ready:\n%s", buf.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The last sleep starts just after "ready".
		for len(sandboxtest.Procs("sleep", secs)) != 5 {
			if time.Now().After(deadline) {
				t.Fatalf("%d sleeps running, want 5 (positive control)\n%s", len(sandboxtest.Procs("sleep", secs)), buf.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// SIGKILL of the launcher: the keeper's parent-death signal ends the run.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		gone(t, secs)
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostProcessesStayClosed: host processes are visible (a documented
// difference), but their environment and memory are not readable, and
// they cannot be signalled, even when they run as the same user.
func TestHostProcessesStayClosed(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newEnv(t, u)
		victim := exec.Command("sleep", sandboxtest.Marker(13))
		victim.Env = []string{"VICTIM_SECRET=hunter2"}
		if u != nil {
			victim.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
		}
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = victim.Process.Kill(); _ = victim.Wait() }()
		pid := strconv.Itoa(victim.Process.Pid)
		out, _ := e.run(`tr '\0' ' ' < /proc/` + pid + `/cmdline; echo " cmdline:$?"
cat /proc/` + pid + `/environ; echo "environ:$?"
dd if=/proc/` + pid + `/mem bs=1 count=1 skip=4194304 2>&1; echo "mem:$?"
ls -l /proc/` + pid + `/cwd 2>&1; echo "cwd:$?"
kill -0 ` + pid + ` 2>&1; echo "signal:$?"
grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs)' /proc/self/status`)
		// Positive control: the process is there and its command line is read.
		want(t, out, "sleep "+sandboxtest.Marker(13)+"  cmdline:0", "environ:1", "mem:1", "signal:1",
			"CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "NoNewPrivs:\t1")
		if u == nil {
			// Only root can shrink the bounding set, and only root needs
			// it empty: nothing it execs may get capabilities back.
			want(t, out, "CapBnd:\t0000000000000000")
		}
		if strings.Contains(out, "hunter2") {
			t.Fatalf("read a host process's environment:\n%s", out)
		}
		if strings.Contains(out, "cwd:0") {
			t.Errorf("followed a host process's cwd:\n%s", out)
		}
		if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("the host process is gone: %v", err)
		}
	})
}

// fakeProxy is the run's proxy on a unix socket: it answers HTTP proxy
// requests with "proxied", and SOCKS5 CONNECTs (the capture's) to
// allowed targets with "tunnel HOST:PORT"; it refuses the others.
type fakeProxy struct {
	path  string
	allow map[string]bool
	mu    sync.Mutex
	seen  []string
}

func newFakeProxy(t *testing.T, dir string, u *sandboxtest.User, allow ...string) *fakeProxy {
	p := &fakeProxy{path: filepath.Join(dir, "proxy.sock"), allow: map[string]bool{}}
	for _, a := range allow {
		p.allow[a] = true
	}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	if u != nil {
		os.Chown(p.path, u.UID, u.GID)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	return p
}

func (p *fakeProxy) record(s string) {
	p.mu.Lock()
	p.seen = append(p.seen, s)
	p.mu.Unlock()
}

func (p *fakeProxy) requests() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.seen, "\n")
}

func (p *fakeProxy) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	first, err := r.Peek(1)
	if err != nil {
		return
	}
	if first[0] != 5 {
		line, _ := r.ReadString('\n')
		p.record("http " + strings.TrimSpace(line))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied")
		return
	}
	hdr := make([]byte, 2)
	io.ReadFull(r, hdr)
	io.ReadFull(r, make([]byte, hdr[1]))
	c.Write([]byte{5, 0})
	req := make([]byte, 4)
	io.ReadFull(r, req)
	var host string
	switch req[3] {
	case 1:
		a := make([]byte, 4)
		io.ReadFull(r, a)
		host = net.IP(a).String()
	case 3:
		n, _ := r.ReadByte()
		b := make([]byte, n)
		io.ReadFull(r, b)
		host = string(b)
	case 4:
		a := make([]byte, 16)
		io.ReadFull(r, a)
		host = "[" + net.IP(a).String() + "]"
	}
	pb := make([]byte, 2)
	io.ReadFull(r, pb)
	target := fmt.Sprintf("%s:%d", host, binary.BigEndian.Uint16(pb))
	p.record("socks " + target)
	if !p.allow[target] {
		c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	io.WriteString(c, "tunnel "+target+"\n")
}

// TestNetworkOnlyThroughCordon: every connection the command makes goes
// through the proxy: the proxy variables' address reaches the proxy
// itself; a direct connect to an IP is a SOCKS CONNECT the proxy decides
// (allowed: the tunnel; refused: ECONNREFUSED); UDP and raw sockets are
// refused; a server listens on the loopback only, and the command reaches
// its own server there, never a host service.
func TestNetworkOnlyThroughCordon(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is required: %v", err)
	}
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newEnv(t, u)
		fp := newFakeProxy(t, filepath.Dir(e.ws), u, "203.0.113.9:81")
		e.proxy = fp.path
		hostSvc, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer hostSvc.Close()
		go func() {
			for {
				c, err := hostSvc.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, "host-secret\n")
				c.Close()
			}
		}()
		hostPort := strconv.Itoa(hostSvc.Addr().(*net.TCPAddr).Port)
		script := `cd "$TMPDIR"
curl -sS -m 10 http://example.test/ ; echo " curl:$?"
python3 - <<'PY'
import socket, errno
def attempt(name, f):
    try:
        print(name, "ok", f())
    except OSError as e:
        print(name, "refused", errno.errorcode.get(e.errno, e.errno))
def direct(host, port):
    s = socket.create_connection((host, port), timeout=10)
    return s.makefile().readline().strip()
attempt("allowed", lambda: direct("203.0.113.9", 81))
attempt("denied", lambda: direct("198.51.100.7", 443))
attempt("hostsvc", lambda: direct("127.0.0.1", ` + hostPort + `))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
attempt("ping", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))
attempt("sctp", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132))
attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
def wide():
    s = socket.socket(); s.bind(("0.0.0.0", 0)); s.listen(1); return s.getsockname()
attempt("listen-any", wide)
def own():
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
    port = srv.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    a, _ = srv.accept(); a.sendall(b"own-server\n")
    return c.makefile().readline().strip()
attempt("own", own)
def fastopen():
    s = socket.socket(); s.sendto(b"GET / HTTP/1.0\r\n\r\n", socket.MSG_FASTOPEN, ("203.0.113.9", 82)); return "sent"
attempt("fastopen", fastopen)
def unbound():
    srv = socket.socket(); srv.listen(1); return srv.getsockname()[0]
attempt("unbound", unbound)
PY`
		out, code := e.run(script)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		want(t, out, "proxied curl:0", "allowed ok tunnel 203.0.113.9:81", "denied refused ECONNREFUSED",
			"udp refused EPERM", "raw refused EPERM", "ping refused EPERM", "sctp refused EPERM", "netlink refused EPERM",
			"listen-any refused EACCES", "own ok own-server", "fastopen refused EPERM", "unbound ok 127.0.0.1")
		if strings.Contains(out, "host-secret") {
			t.Errorf("a host loopback service was reached directly:\n%s", out)
		}
		reqs := fp.requests()
		want(t, reqs, "http GET http://example.test/", "socks 203.0.113.9:81", "socks 198.51.100.7:443", "socks localhost:"+hostPort)
	})
}
