//go:build linux

package main

// Network end to end: real traffic from inside real bubblewrap through the
// in-sandbox bridge and the run's proxy to servers on the host.
//
// The test hosts (allowed.test, *.example.test, …) must resolve on the
// host side to addresses the proxy treats as public. Rather than touch the
// machine's /etc/hosts and interfaces, TestNetE2E re-executes itself in a
// private network and mount namespace (unshare, root only — as CI runs),
// puts 203.0.113.10 and .11 (TEST-NET-3) on that namespace's lo and
// bind-mounts a hosts file over /etc/hosts there. Nothing outside changes.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

const netInnerVar = "CORDON_NET_E2E_INNER"

var (
	netclientOnce sync.Once
	netclientBin  string
	netclientErr  error
)

// netclient builds the Go client the sandboxed commands run.
func netclient(t testing.TB) string {
	t.Helper()
	netclientOnce.Do(func() {
		netclientBin = filepath.Join(filepath.Dir(cordonBin), "netclient")
		out, err := exec.Command("go", "build", "-o", netclientBin, "./testdata/netclient").CombinedOutput()
		if err != nil {
			netclientErr = fmt.Errorf("building netclient: %v\n%s", err, out)
		}
	})
	if netclientErr != nil {
		t.Fatal(netclientErr)
	}
	return netclientBin
}

// hostServers is the host side of the network tests.
type hostServers struct {
	dir   string // CA, keys, the git repository
	caPEM string

	mu   sync.Mutex
	hits map[string]int // by Host header (lower case, no port, no dot)
	udp  int
}

// devServer is the key the host's dev server on localhost:5173 counts
// its hits under.
const devServer = "dev:5173"

func (h *hostServers) hit(host string) {
	h.mu.Lock()
	h.hits[host]++
	h.mu.Unlock()
}

func (h *hostServers) count(host string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[host]
}

// privateHosts resolve to a private address (on the namespace's lo, where
// the test servers listen too), loopbackHosts to 127.0.0.1.
const (
	privateAddr   = "10.200.0.7"
	privateHosts  = "priv.wild.test intranet.test"
	loopbackHosts = "lo.wild.test"
)

const testHosts = "over.test bad.over.test ok.over.test ask1.test ask2.test ask3.test allowed.test denied.test unknown.test ports.test ssh.test example.test api.example.test deep.api.example.test evilexample.test example.test.evil.test"

const netPolicy = `[network]
allow = ["unaware.test:8080", "allowed.test", "*.example.test", "ports.test:8080", "203.0.113.11:8080", "localhost:5173", "ssh.test:2222"]
deny = ["denied.test"]
unknown = "deny"
`

func TestNetE2E(t *testing.T) {
	if os.Getenv(netInnerVar) == "" {
		if os.Geteuid() != 0 {
			sandboxtest.Skip(t, "not root: the test hosts need a private network namespace, which only root can make here (CI runs these tests as root, their user halves as the test user)")
		}
		args := []string{"--net", "--mount", "--propagation", "private", "--", os.Args[0], "-test.run", "^TestNetE2E$", "-test.count=1", "-test.v",
			"-test.timeout=8m"} // inside make unit's 12: a hang inside fails here, with its stacks
		cmd := exec.Command("unshare", args...)
		cmd.Env = append(os.Environ(), netInnerVar+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || testing.Verbose() {
			t.Logf("inner run:\n%s", out)
		}
		if err != nil {
			t.Fatalf("network tests in the private namespace failed: %v", err)
		}
		if !strings.Contains(string(out), "--- PASS: TestNetE2E (") || strings.Contains(string(out), "--- SKIP") {
			t.Fatalf("the inner run did not pass every test:\n%s", out)
		}
		return
	}
	h := setUpHostNetwork(t)

	run := func(t *testing.T, e *env, script string) result {
		t.Helper()
		e.extra = append(e.extra, "SSL_CERT_FILE="+h.caPEM)
		r := e.sandboxed("NC=" + netclient(t) + "\n" + script)
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		return r
	}
	newNetEnv := func(t *testing.T, u *testUser) *env {
		e := newEnvAs(t, u)
		p := filepath.Join(e.home, ".config", "cordon", "sandbox.toml")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(netPolicy), 0o644); err != nil {
			t.Fatal(err)
		}
		e.chown()
		return e
	}
	want := func(t *testing.T, r result, needles ...string) {
		t.Helper()
		for _, n := range needles {
			if !strings.Contains(r.stdout, n) {
				t.Errorf("stdout lacks %q", n)
			}
		}
	}
	blocked := func(t *testing.T, r result, targets ...string) {
		t.Helper()
		for _, tg := range targets {
			if !strings.Contains(r.stderr, "cordon: blocked net "+tg+" ") {
				t.Errorf("stderr lacks the report for %s", tg)
			}
		}
	}
	untouched := func(t *testing.T, hosts ...string) {
		t.Helper()
		for _, host := range hosts {
			if n := h.count(host); n != 0 {
				t.Errorf("%s was reached %d times upstream; a refused request must reach nothing", host, n)
			}
		}
	}

	t.Run("AllowedAndDenied", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			e = newNetEnv(t, e.user)
			r := run(t, e, `curl -sS -m 10 http://allowed.test:8080/
$NC get http://allowed.test:8080/
curl -sS -m 10 --cacert `+h.caPEM+` https://allowed.test:8443/
$NC get https://allowed.test:8443/
echo "denied:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://denied.test:8080/)"
curl -sS -m 10 --cacert `+h.caPEM+` https://denied.test:8443/ >/dev/null 2>&1; echo "denied-tls:$?"
$NC get https://denied.test:8443/
echo "unknown:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://unknown.test:8080/)"`)
			want(t, r, "hello allowed.test\n200 hello allowed.test\nhello allowed.test tls\n200 hello allowed.test tls\n",
				"denied:403", "denied-tls:56", `error: Get "https://denied.test:8443/": Forbidden`, "unknown:403")
			blocked(t, r, "denied.test:8080", "denied.test:8443", "unknown.test:8080")
			untouched(t, "denied.test", "unknown.test")
		})
	})

	t.Run("WildcardEdges", func(t *testing.T) {
		r := run(t, newNetEnv(t, nil), `for h in api.example.test deep.api.example.test example.test evilexample.test example.test.evil.test; do
  echo "$h:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://$h:8080/)"
done`)
		want(t, r, "api.example.test:200", "deep.api.example.test:200", "\nexample.test:403", "evilexample.test:403", "example.test.evil.test:403")
		untouched(t, "example.test", "evilexample.test", "example.test.evil.test")
	})

	t.Run("PortNotAllowed", func(t *testing.T) {
		r := run(t, newNetEnv(t, nil), `echo "8080:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://ports.test:8080/)"
echo "8081:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://ports.test:8081/)"`)
		want(t, r, "8080:200", "8081:403")
		blocked(t, r, "ports.test:8081")
		if n := h.count("ports.test:8081"); n != 0 {
			t.Errorf("port 8081 reached %d times", n)
		}
	})

	t.Run("CaseAndTrailingDots", func(t *testing.T) {
		r := run(t, newNetEnv(t, nil), `for u in http://ALLOWED.TEST:8080/ http://allowed.test.:8080/ http://Api.Example.Test.:8080/ http://DENIED.TEST.:8080/ http://Denied.Test:8080/; do
  echo "$u $(curl -sS -m 10 -o /dev/null -w '%{http_code}' $u)"
  echo "socks $u $(curl -sS -m 10 -o /dev/null -w '%{http_code}' -x "$ALL_PROXY" $u)"
done`)
		want(t, r, "http://ALLOWED.TEST:8080/ 200", "http://allowed.test.:8080/ 200", "http://Api.Example.Test.:8080/ 200",
			"http://DENIED.TEST.:8080/ 403", "http://Denied.Test:8080/ 403",
			"socks http://ALLOWED.TEST:8080/ 200", "socks http://allowed.test.:8080/ 200", "socks http://DENIED.TEST.:8080/ 000")
		untouched(t, "denied.test")
	})

	t.Run("NULInSOCKSHost", func(t *testing.T) {
		dev := h.count(devServer)
		r := run(t, newNetEnv(t, nil), `$NC socks 'allowed.test' 8080
$NC socks 'denied.test\x00.allowed.test' 8080
$NC socks 'localhost\x00.example.test' 5173
$NC socks 'localhost\x00.example.test' 8080
$NC socks 'evilexample.test\x00.api.example.test' 8080
$NC socks 'api.example.test\x00' 8080`)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 6 || lines[0] != "reply 0" {
			t.Fatalf("want a grant for the plain name then 5 answers, got %q", lines)
		}
		for _, l := range lines[1:] {
			if l == "reply 0" || !strings.HasPrefix(l, "reply ") {
				t.Errorf("a host name with a NUL byte got %q", l)
			}
		}
		untouched(t, "denied.test", "evilexample.test", "localhost", "127.0.0.1")
		if n := h.count(devServer) - dev; n != 0 {
			t.Errorf("the dev server on localhost:5173 was reached %d times through a name with a NUL byte", n)
		}
	})

	t.Run("IPLiterals", func(t *testing.T) {
		r := run(t, newNetEnv(t, nil), `echo "named:$(curl -sS -m 10 http://203.0.113.11:8080/)"
echo "unnamed:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://203.0.113.10:8080/)"
echo "v6:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' 'http://[::1]:8080/' -x "$HTTP_PROXY" --noproxy '')"`)
		want(t, r, "named:hello 203.0.113.11", "unnamed:403", "v6:403")
		untouched(t, "203.0.113.10", "::1")
	})

	t.Run("Localhost", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			e = newNetEnv(t, e.user)
			r := run(t, e, `echo "mirror:$(curl -sS -m 10 http://localhost:5173/)"
echo "mirror-noproxy:$(curl -sS -m 10 --noproxy '*' http://127.0.0.1:5173/)"
echo "mirror-go:$($NC get http://localhost:5173/)"
echo "mirror-v6:$(curl -sS -m 10 --noproxy '*' 'http://[::1]:5173/')"
curl -sS -m 10 --noproxy '*' http://localhost:8080/ >/dev/null 2>&1; echo "unmirrored-direct:$?"
echo "unmirrored-proxy:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -x "$HTTP_PROXY" --noproxy '' http://localhost:8080/)"
echo "loopback-proxy:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -x "$HTTP_PROXY" --noproxy '' http://127.0.0.1:8080/)"
echo "own:$($NC serve-and-get 9000)"`)
			want(t, r, "mirror:dev server", "mirror-noproxy:dev server", "mirror-go:200 dev server", "mirror-v6:dev server",
				"unmirrored-direct:7", "unmirrored-proxy:403", "loopback-proxy:403", "own:200 own server")
			untouched(t, "localhost", "127.0.0.1")
		})
	})

	t.Run("NoDirectRoute", func(t *testing.T) {
		r := run(t, newNetEnv(t, nil), `curl -sS -m 10 --noproxy '*' http://allowed.test:8080/ >/dev/null 2>&1; echo "noproxy:$?"
echo "dial:$($NC dial 203.0.113.10:8080)"
echo "udp:$($NC udp 203.0.113.10:5353)"`)
		want(t, r, "noproxy:7", "dial:error: ", "network is unreachable", "udp:error: ")
		h.mu.Lock()
		udp := h.udp
		h.mu.Unlock()
		if udp != 0 {
			t.Errorf("%d UDP datagrams reached the host", udp)
		}
	})

	t.Run("ProxyUnaware", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			e = newNetEnv(t, e.user)
			r := run(t, e, `curl -sS -m 10 --noproxy '*' http://unaware.test:8080/
curl -sS -m 10 --noproxy '*' http://unaware.test:8081/ >/dev/null 2>&1; echo "other-port:$?"
python3 -c '
import socket
s = socket.create_connection(("unaware.test", 8080), timeout=10)
s.sendall(b"GET / HTTP/1.0\r\nHost: unaware.test\r\n\r\n")
print("python:", s.recv(4096).split(b"\r\n")[-1].decode().strip())
'
env -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy $NC get http://unaware.test:8080/
curl -sS -m 10 --noproxy '*' http://allowed.test:8080/ >/dev/null 2>&1; echo "hosts-file-name:$?"`)
			want(t, r, "hello unaware.test\n", "other-port:7", "python: hello unaware.test", "200 hello unaware.test", "hosts-file-name:7")
			blocked(t, r, "unaware.test:8081")
			if n := h.count("unaware.test:8081"); n != 0 {
				t.Errorf("port 8081 reached %d times", n)
			}
		})
	})

	// withPolicy is newNetEnv with other user defaults.
	withPolicy := func(t *testing.T, e *env, policy string) *env {
		e = newNetEnv(t, e.user)
		if err := os.WriteFile(filepath.Join(e.home, ".config", "cordon", "sandbox.toml"), []byte(policy), 0o644); err != nil {
			t.Fatal(err)
		}
		e.chown()
		return e
	}

	t.Run("DenyWins", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			e = withPolicy(t, e, `[network]
allow = ["over.test", "*.over.test"]
deny = ["over.test", "bad.over.test:8080"]
unknown = "deny"
`)
			ok := h.count("ok.over.test")
			r := run(t, e, `echo start
for h in over.test bad.over.test ok.over.test; do
  echo "$h:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://$h:8080/)"
  echo "socks-$h:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -x "$ALL_PROXY" http://$h:8080/)"
done`)
			want(t, r, "\nover.test:403", "\nbad.over.test:403", "\nok.over.test:200", "socks-over.test:000", "socks-bad.over.test:000", "socks-ok.over.test:200")
			blocked(t, r, "over.test:8080", "bad.over.test:8080")
			untouched(t, "over.test", "bad.over.test")
			if h.count("ok.over.test") != ok+2 {
				t.Errorf("the allowed host beside the denied ones was reached %d times, want 2", h.count("ok.over.test")-ok)
			}
		})
	})

	t.Run("PrivateAddresses", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			e = withPolicy(t, e, `[network]
allow = ["*.wild.test", "intranet.test:8080"]
unknown = "deny"
`)
			named := h.count("intranet.test")
			r := run(t, e, `echo start
for h in priv.wild.test lo.wild.test intranet.test `+privateAddr+`; do
  echo "$h:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://$h:8080/)"
  echo "socks-$h:$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -x "$ALL_PROXY" http://$h:8080/)"
done`)
			want(t, r, "\npriv.wild.test:403", "\nlo.wild.test:403", "\nintranet.test:200", "\n"+privateAddr+":403",
				"socks-priv.wild.test:000", "socks-lo.wild.test:000", "socks-intranet.test:200", "socks-"+privateAddr+":000")
			blocked(t, r, "priv.wild.test:8080", "lo.wild.test:8080", privateAddr+":8080")
			untouched(t, "priv.wild.test", "lo.wild.test", privateAddr)
			// The positive control: the private address is reachable, when
			// a rule names it exactly.
			if h.count("intranet.test") != named+2 {
				t.Errorf("intranet.test (named exactly) reached %d times, want 2", h.count("intranet.test")-named)
			}
		})
	})

	t.Run("UnknownAsked", func(t *testing.T) { testUnknownAsked(t, h, newNetEnv) })

	t.Run("GitSSHRemoteThroughCordon", func(t *testing.T) { testGitSSHRemote(t, h, newNetEnv) })

	t.Run("GitOverSSH", func(t *testing.T) {
		e := newNetEnv(t, nil)
		key := filepath.Join(e.ws, "id")
		copyFile(t, filepath.Join(h.dir, "id"), key, 0o600)
		r := run(t, e, `export GIT_SSH_COMMAND="$GIT_SSH_COMMAND -i `+key+` -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes"
git clone -q ssh://root@ssh.test:2222`+filepath.Join(h.dir, "repo.git")+` clone && cat clone/README
git clone -q ssh://root@ports.test:2222`+filepath.Join(h.dir, "repo.git")+` clone2; echo "other-port:$?"`)
		want(t, r, "cloned over ssh")
		want(t, r, "other-port:128")
		blocked(t, r, "ports.test:2222")
		if _, err := os.Stat(filepath.Join(e.ws, "clone2")); err == nil {
			t.Error("a clone through a port no rule allows exists")
		}
	})
}

// TestNetE2E/UnknownAsked lives here: the CLI asks about unknown hosts on
// the controlling terminal, so the test gives cordon a real pty and
// answers the prompts like a user would.
func testUnknownAsked(t *testing.T, h *hostServers, newNetEnv func(*testing.T, *testUser) *env) {
	e := newNetEnv(t, nil)
	p := filepath.Join(e.home, ".config", "cordon", "sandbox.toml")
	if err := os.WriteFile(p, []byte(strings.Replace(netPolicy, `unknown = "deny"`, `unknown = "ask"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{"ask1.test": "o", "ask2.test": "a", "ask3.test": "n"}
	script := `for h in ask1.test ask1.test ask2.test ask2.test ask3.test; do
  echo "$h:$(curl -sS -m 20 -o /dev/null -w '%{http_code}' http://$h:8080/)"
done
echo "go:$(` + netclient(t) + ` get http://ask2.test:8080/)"`

	master, slave := openPTY(t)
	cmd := exec.Command(cordonBin, "run", "-c", script)
	cmd.Dir, cmd.Env = e.ws, e.environ()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.ExtraFiles = []*os.File{slave}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	asked := map[string]int{}
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 4096)
		var pending string
		for {
			n, err := master.Read(buf)
			if err != nil {
				return
			}
			pending += string(buf[:n])
			for {
				i := strings.Index(pending, "wants to reach ")
				j := strings.Index(pending, "[N]o? ")
				if i < 0 || j < i {
					break
				}
				host, _, _ := strings.Cut(pending[i+len("wants to reach "):], ":")
				pending = pending[j+len("[N]o? "):]
				mu.Lock()
				asked[host]++
				mu.Unlock()
				io.WriteString(master, answers[host]+"\n")
			}
		}
	}()
	var err error
	sandboxtest.Within(t, runDeadline, "the end of cordon run answering prompts", func() { err = cmd.Wait() })
	master.Close()
	t.Logf("exit %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	for _, w := range []string{"ask1.test:200\nask1.test:200\n", "ask2.test:200\nask2.test:200\n", "ask3.test:403", "go:200 hello ask2.test"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// An answer holds for the rest of the run, whichever it was: a host is
	// asked once per answer, not once per connection.
	if asked["ask1.test"] != 1 || asked["ask2.test"] != 1 || asked["ask3.test"] != 1 {
		t.Errorf("questions asked: %v, want each host once", asked)
	}
	if !strings.Contains(errb.String(), "cordon: blocked net ask3.test:8080 ") {
		t.Error("the refusal of ask3.test is not reported")
	}
	if h.count("ask3.test") != 0 {
		t.Error("ask3.test was reached after a deny")
	}
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// setUpHostNetwork runs inside the private namespaces: addresses, names,
// servers, sshd.
func setUpHostNetwork(t *testing.T) *hostServers {
	t.Helper()
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", "203.0.113.10/32", "dev", "lo"},
		{"ip", "addr", "add", "203.0.113.11/32", "dev", "lo"},
		{"ip", "addr", "add", privateAddr + "/32", "dev", "lo"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	// World-readable (not t.TempDir) so the unprivileged user reads the CA,
	// and beside the binary, whose directory the sandbox sees (the host's
	// /tmp it does not).
	dir, err := os.MkdirTemp(filepath.Dir(cordonBin), "net-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	hosts := filepath.Join(dir, "hosts")
	content := "127.0.0.1 localhost " + loopbackHosts + "\n::1 localhost\n203.0.113.10 " + testHosts + "\n" +
		privateAddr + " " + privateHosts + "\n"
	if err := os.WriteFile(hosts, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(hosts, "/etc/hosts", "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting the test hosts file (private mount namespace): %v", err)
	}
	h := &hostServers{dir: dir, hits: map[string]int{}}
	cert := h.makeCA(t)

	handler := func(port string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := strings.ToLower(strings.TrimSuffix(hostOnly(r.Host), "."))
			key := host
			if port != "8080" {
				key += ":" + port
			}
			h.hit(key)
			msg := "hello " + host
			if r.TLS != nil {
				msg += " tls"
			}
			io.WriteString(w, msg+"\n")
		})
	}
	serve := func(addr string, hd http.Handler, tlsCfg *tls.Config) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		srv := &http.Server{Handler: hd, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	serve(":8080", handler("8080"), nil)
	serve(":8081", handler("8081"), nil)
	serve(":8443", handler("8443"), &tls.Config{Certificates: []tls.Certificate{cert}})
	serve("127.0.0.1:5173", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hit(devServer)
		io.WriteString(w, "dev server")
	}), nil)
	pc, err := net.ListenPacket("udp", ":5353")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			h.mu.Lock()
			h.udp++
			h.mu.Unlock()
		}
	}()
	h.startSSHD(t)
	h.startDNS(t, dir)
	return h
}

// startDNS answers unaware.test (and nothing else) on 127.0.0.1:53 and
// points resolv.conf at it: a name only DNS knows, so the sandbox's
// resolver cannot find it in /etc/hosts and must ask its DNS, which the
// capture answers from the pool.
func (h *hostServers) startDNS(t *testing.T, dir string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			m.Header.Response, m.Header.RecursionAvailable = true, true
			m.Answers = nil
			if !strings.EqualFold(q.Name.String(), "unaware.test.") {
				m.Header.RCode = dnsmessage.RCodeNameError
			} else if q.Type == dnsmessage.TypeA {
				m.Answers = []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
					Body:   &dnsmessage.AResource{A: [4]byte{203, 0, 113, 10}},
				}}
			}
			if out, err := m.Pack(); err == nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	conf := filepath.Join(dir, "resolv.conf")
	os.WriteFile(conf, []byte("nameserver 127.0.0.1\noptions timeout:2 attempts:1\n"), 0o644)
	if err := syscall.Mount(conf, "/etc/resolv.conf", "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting resolv.conf: %v", err)
	}
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// makeCA writes a throwaway CA (h.caPEM) and returns a leaf for the test names.
func (h *hostServers) makeCA(t *testing.T) tls.Certificate {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cordon test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "allowed.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames:    append(strings.Fields(testHosts), "*.example.test"),
		IPAddresses: []net.IP{net.ParseIP("203.0.113.11")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	h.caPEM = filepath.Join(h.dir, "ca.pem")
	if err := os.WriteFile(h.caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
}

// startSSHD runs the real OpenSSH server on :2222 with a throwaway host
// key and client key, serving a bare repository for git over SSH.
func (h *hostServers) startSSHD(t *testing.T) {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Fatalf("git over SSH needs sshd (apt-get install -y openssh-server): %v", err)
	}
	d := h.dir
	sh := func(script string) {
		t.Helper()
		out, err := exec.Command("sh", "-ec", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	sh(`cd ` + d + `
ssh-keygen -q -t ed25519 -N '' -f hostkey
ssh-keygen -q -t ed25519 -N '' -f id
cp id.pub authorized_keys
git init -q --bare repo.git
git init -q src && cd src && echo "cloned over ssh" > README && git add README &&
  git -c user.name=t -c user.email=t@t commit -qm init && git push -q ../repo.git HEAD:refs/heads/main
git -C ../repo.git symbolic-ref HEAD refs/heads/main`)
	// Privilege separation wants this directory; a tmpfs in our private
	// mount namespace leaves the machine's /run alone.
	if err := os.MkdirAll("/run/sshd", 0o755); err == nil {
		_ = syscall.Mount("tmpfs", "/run/sshd", "tmpfs", 0, "mode=0755")
	}
	conf := filepath.Join(d, "sshd_config")
	os.WriteFile(conf, []byte(fmt.Sprintf(`Port 2222
ListenAddress 0.0.0.0
HostKey %[1]s/hostkey
AuthorizedKeysFile %[1]s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile none
`, d)), 0o600)
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	logf, _ := os.Create(filepath.Join(d, "sshd.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(d, "sshd.log"))
			t.Logf("sshd log:\n%s", b)
		}
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", "127.0.0.1:2222", time.Second)
		if err == nil {
			c.Close()
			return
		}
		if i == 50 {
			t.Fatalf("sshd did not listen: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
