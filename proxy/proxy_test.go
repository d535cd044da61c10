package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// fakeNet resolves test names to documentation addresses (public to the
// proxy) and dials those to local test servers, recording every lookup
// and every dialled address.
type fakeNet struct {
	mu      sync.Mutex
	names   map[string]netip.Addr
	routes  map[netip.AddrPort]string // checked address → real local address
	lookups []string
	dialed  []string
}

func newFakeNet() *fakeNet {
	return &fakeNet{names: map[string]netip.Addr{}, routes: map[netip.AddrPort]string{}}
}

func (f *fakeNet) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, host)
	if a, ok := f.names[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (f *fakeNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	f.dialed = append(f.dialed, addr)
	real, ok := f.routes[netip.MustParseAddrPort(addr)]
	f.mu.Unlock()
	if !ok {
		real = addr // loopback destinations the policy named explicitly
	}
	var d net.Dialer
	return d.DialContext(ctx, network, real)
}

// serve routes name:port to a local server via a public test address.
func (f *fakeNet) serve(name string, a string, port int, local string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	addr := netip.MustParseAddr(a)
	f.names[name] = addr
	f.routes[netip.AddrPortFrom(addr, uint16(port))] = local
}

// route sends dials of a:port to a local server.
func (f *fakeNet) route(a string, port int, local string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[netip.AddrPortFrom(netip.MustParseAddr(a), uint16(port))] = local
}

func (f *fakeNet) counts() (lookups, dials int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.lookups), len(f.dialed)
}

func policy(t testing.TB, src string) *workspace.Policy {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, ".sandbox.toml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	d := workspace.Dirs{Home: home, ConfigDir: filepath.Join(home, "cfg"), StateDir: filepath.Join(home, "state")}
	p, err := workspace.Load(workspace.LoadOptions{Root: root, Dirs: d})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Trusted {
		// Tests speak for the user: approve the widening content.
		if err := (workspace.TrustStore{Dir: d.StateDir}).Trust(p.File, p.Hash); err != nil {
			t.Fatal(err)
		}
		if p, err = workspace.Load(workspace.LoadOptions{Root: root, Dirs: d}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

type harness struct {
	t   testing.TB
	s   *Session
	net *fakeNet
}

func newHarness(t testing.TB, pol *workspace.Policy, approver Approver, roots *x509.CertPool) *harness {
	t.Helper()
	fn := newFakeNet()
	s, err := NewSession(context.Background(), Config{
		RunID: "run1", Command: "test", Policy: func() *workspace.Policy { return pol },
		Approver: approver, ApprovalTimeout: 500 * time.Millisecond,
		Resolver: fn, Dialer: fn, RootCAs: roots, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &harness{t: t, s: s, net: fn}
}

func (h *harness) dial() net.Conn {
	c, err := net.Dial("unix", h.s.SocketPath())
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// client is an HTTP client whose proxy is the session.
func (h *harness) client(roots *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy: func(*http.Request) (*url.URL, error) { return url.Parse("http://cordon-proxy") },
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", h.s.SocketPath())
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			DisableKeepAlives: true,
		},
	}
}

func upstream(t testing.TB, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, "hello from %s", r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPAllowDenyAndNoLookupForRuleDenial(t *testing.T) {
	var hits atomic.Int32
	srv := upstream(t, &hits)
	pol := policy(t, "[network]\nallow = [\"allowed.test:80\", \"*.example.test\"]\ndeny = [\"bad.example.test\"]\nunknown = \"deny\"\n")
	h := newHarness(t, pol, nil, nil)
	h.net.serve("allowed.test", "203.0.113.10", 80, srv.Listener.Addr().String())
	h.net.serve("bad.example.test", "203.0.113.11", 80, srv.Listener.Addr().String())
	c := h.client(nil)

	resp, err := c.Get("http://Allowed.Test./path")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello") {
		t.Fatalf("allowed: %d %q", resp.StatusCode, body)
	}

	lookups, _ := h.net.counts()
	resp, err = c.Get("http://bad.example.test/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Cordon-Decision") != "denied" ||
		!strings.Contains(string(body), "cordon: the sandbox refused bad.example.test:80: denied by ") || !strings.Contains(string(body), ".sandbox.toml:3\n") {
		t.Fatalf("denied: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if l, _ := h.net.counts(); l != lookups {
		t.Fatal("a name denied by rule was looked up")
	}
	for _, u := range []string{"http://unknown.test/", "http://allowed.test:8080/", "http://example.test/"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s: %d, want 403", u, resp.StatusCode)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("upstream saw %d requests, want only the allowed one", hits.Load())
	}
	ds := h.s.Decisions()
	if len(ds) != 5 || ds[0].Action != "allow" || ds[0].Addr != "203.0.113.10:80" || ds[1].Reason != "rule" {
		t.Fatalf("decisions: %+v", ds)
	}
}

func TestCONNECTToTLSServer(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure hello")
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	pol := policy(t, "[network]\nallow = [\"example.com:443\"]\n")
	h := newHarness(t, pol, nil, roots)
	// httptest's certificate is for example.com.
	h.net.serve("example.com", "203.0.113.20", 443, srv.Listener.Addr().String())
	c := h.client(roots)
	resp, err := c.Get("https://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "secure hello" {
		t.Fatalf("body %q", body)
	}
	// A CONNECT the rules refuse gets a 403 before any tunnel.
	conn := h.dial()
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || r.StatusCode != 403 || r.Header.Get("X-Cordon-Decision") != "denied" {
		t.Fatalf("refused CONNECT: %v %+v", err, r)
	}
}

func TestApprovals(t *testing.T) {
	var hits atomic.Int32
	srv := upstream(t, &hits)
	pol := policy(t, "[network]\nunknown = \"ask\"\n")
	var asked atomic.Int32
	answers := map[string]Answer{"once.test": AllowOnce, "always.test": AllowAlways, "no.test": Deny}
	approver := ApproverFunc(func(ctx context.Context, q Question) (Answer, error) {
		asked.Add(1)
		if q.Host == "err.test" {
			return AllowAlways, fmt.Errorf("editor went away")
		}
		if q.Host == "odd.test" {
			return Answer("yes please"), nil
		}
		if q.Host == "slow.test" {
			<-ctx.Done()
			return AllowOnce, ctx.Err()
		}
		time.Sleep(50 * time.Millisecond) // let concurrent requests pile up
		return answers[q.Host], nil
	})
	h := newHarness(t, pol, approver, nil)
	for i, n := range []string{"once.test", "always.test", "no.test", "slow.test", "err.test", "odd.test"} {
		h.net.serve(n, fmt.Sprintf("203.0.113.%d", 30+i), 80, srv.Listener.Addr().String())
	}
	c := h.client(nil)
	get := func(u string) int {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Concurrent requests for one unknown host share one question.
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); get("http://once.test/") }()
	}
	wg.Wait()
	if asked.Load() != 1 {
		t.Fatalf("5 concurrent requests asked %d questions", asked.Load())
	}
	if code := get("http://always.test/"); code != 200 {
		t.Fatalf("allow-always: %d", code)
	}
	before := asked.Load()
	if code := get("http://always.test/"); code != 200 || asked.Load() != before {
		t.Fatalf("allow-always asked again (%d)", code)
	}
	if code := get("http://no.test/"); code != 403 {
		t.Fatalf("deny: %d", code)
	}
	if code := get("http://slow.test/"); code != 403 {
		t.Fatalf("no answer in time: %d", code)
	}
	for _, u := range []string{"http://err.test/", "http://odd.test/"} {
		if code := get(u); code != 403 {
			t.Fatalf("%s: %d, an approver error or a strange answer must deny", u, code)
		}
	}
	reasons := map[string]string{}
	for _, d := range h.s.Decisions() {
		if d.Action == "deny" {
			reasons[d.Host] = d.Reason
		}
	}
	if reasons["slow.test"] != "timeout" || reasons["err.test"] != "approval-error" || reasons["odd.test"] != "approval-error" || reasons["no.test"] != "approval" {
		t.Fatalf("denial reasons %v", reasons)
	}
	if hits.Load() != 7 {
		t.Fatalf("upstream saw %d requests, want 7 (5 once, 2 always)", hits.Load())
	}
}

// socks performs a SOCKS5 CONNECT with a raw domain and returns the reply code.
func socks(t *testing.T, c net.Conn, cmd byte, host string, port int) byte {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{5, 1, 0})
	var g [2]byte
	if _, err := io.ReadFull(c, g[:]); err != nil || g != [2]byte{5, 0} {
		t.Fatalf("greeting: %v %v", g, err)
	}
	req := []byte{5, cmd, 0, 3, byte(len(host))}
	req = append(req, host...)
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	c.Write(req)
	var rep [10]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		t.Fatalf("reply: %v", err)
	}
	return rep[1]
}

func TestSOCKS(t *testing.T) {
	var hits atomic.Int32
	srv := upstream(t, &hits)
	_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var port int
	fmt.Sscan(portStr, &port)
	pol := policy(t, fmt.Sprintf("[network]\nallow = [\"*.example.test\", \"localhost:%d\", \"203.0.113.50\", \"intranet.test\", \"meta.test\", \"10.0.0.7:5432\"]\nunknown = \"deny\"\n", port))
	h := newHarness(t, pol, nil, nil)
	local := srv.Listener.Addr().String()
	h.net.serve("a.example.test", "203.0.113.40", 80, local)
	h.net.serve("a.b.example.test", "203.0.113.41", 80, local)
	h.net.serve("intranet.test", "10.1.2.3", 80, local)
	h.net.serve("priv.example.test", "10.9.9.9", 80, local)
	h.net.serve("ll.example.test", "169.254.7.7", 80, local)
	h.net.serve("cgnat.example.test", "100.64.1.1", 80, local)
	h.net.serve("meta.test", "169.254.169.254", 80, local)
	h.net.serve("rebind.example.test", "127.0.0.1", 80, local)
	h.net.serve("mapped.example.test", "::ffff:127.0.0.1", 80, local)
	h.net.serve("nat64-meta.example.test", "64:ff9b::a9fe:a9fe", 80, local)
	h.net.serve("nat64-priv.example.test", "64:ff9b::a00:1", 80, local)
	h.net.serve("nat64-pub.example.test", "64:ff9b::cb00:712a", 80, local) // 203.0.113.42
	h.net.serve("6to4.example.test", "2002:7f00:1::1", 80, local)
	h.net.serve("nat64-local.example.test", "64:ff9b:1::1", 80, local)
	h.net.serve("teredo.example.test", "2001:0:4136:e378:8000:63bf:3fff:fdd2", 80, local)
	h.net.serve("v6lo.example.test", "::1", 80, local)
	h.net.serve("v6ll.example.test", "fe80::1", 80, local)
	h.net.serve("v6ula.example.test", "fd12:3456::1", 80, local)
	h.net.serve("zero.example.test", "0.0.0.0", port, local)
	h.net.serve("zero8.example.test", "0.1.2.3", port, local)
	h.net.serve("bcast.example.test", "255.255.255.255", port, local)
	h.net.route("203.0.113.50", 80, local)
	h.net.route("10.0.0.7", 5432, local)

	v4 := func(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
	v6 := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }
	for _, tc := range []struct {
		name string
		cmd  byte
		atyp byte
		addr []byte
		port int
		want byte
	}{
		{"allowed", 1, 3, []byte("a.example.test"), 80, 0},
		{"subdomain at depth", 1, 3, []byte("a.b.example.test"), 80, 0},
		{"upper case and trailing dot", 1, 3, []byte("A.Example.TEST."), 80, 0},
		{"NUL in the name", 1, 3, []byte("a.example.test\x00.evil"), 80, 2},
		{"NUL before the suffix", 1, 3, []byte("evil\x00.example.test"), 80, 2},
		{"newline in the name", 1, 3, []byte("evil\n.example.test"), 80, 2},
		{"suffix itself", 1, 3, []byte("example.test"), 80, 2},
		{"lookalike", 1, 3, []byte("evilexample.test"), 80, 2},
		{"suffix then more", 1, 3, []byte("example.test.evil.net"), 80, 2},
		{"localhost without a rule for the port", 1, 3, []byte("localhost"), 22, 2},
		{"localhost with a rule", 1, 3, []byte("localhost"), port, 0},
		{"127.0.0.1 is not localhost's rule", 1, 1, v4("127.0.0.1"), port, 2},
		{"IPv4-mapped loopback", 1, 4, v6("::ffff:127.0.0.1"), port, 2},
		{"exact name rule resolving to a private address", 1, 3, []byte("intranet.test"), 80, 0},
		{"wildcard resolving to a private address", 1, 3, []byte("priv.example.test"), 80, 2},
		{"wildcard resolving to link-local", 1, 3, []byte("ll.example.test"), 80, 2},
		{"wildcard resolving to CGNAT", 1, 3, []byte("cgnat.example.test"), 80, 2},
		{"wildcard resolving to loopback", 1, 3, []byte("rebind.example.test"), 80, 2},
		{"wildcard resolving to mapped loopback", 1, 3, []byte("mapped.example.test"), 80, 2},
		{"exact name rule resolving to metadata", 1, 3, []byte("meta.test"), 80, 2},
		{"bare IP literal with a rule", 1, 1, v4("203.0.113.50"), 80, 0},
		{"bare IP literal without a rule", 1, 1, v4("203.0.113.51"), 80, 2},
		{"private literal named by a rule", 1, 1, v4("10.0.0.7"), 5432, 0},
		{"private literal on another port", 1, 1, v4("10.0.0.7"), 5433, 2},
		{"metadata literal", 1, 1, v4("169.254.169.254"), 80, 2},
		{"metadata as a domain", 1, 3, []byte("169.254.169.254"), 80, 2},
		{"loopback as a decimal number", 1, 3, []byte("2130706433"), port, 2},
		{"loopback in hex", 1, 3, []byte("0x7f000001"), port, 2},
		{"loopback abbreviated", 1, 3, []byte("127.1"), port, 2},
		{"over-long name", 1, 3, []byte(strings.Repeat("a.", 121) + "example.test"), 80, 2},
		{"IPv4-mapped metadata", 1, 4, v6("::ffff:169.254.169.254"), 80, 2},
		{"AWS IPv6 metadata", 1, 4, v6("fd00:ec2::254"), 80, 2},
		{"wildcard resolving to metadata through NAT64", 1, 3, []byte("nat64-meta.example.test"), 80, 2},
		{"wildcard resolving to private through NAT64", 1, 3, []byte("nat64-priv.example.test"), 80, 2},
		{"wildcard resolving to public through NAT64", 1, 3, []byte("nat64-pub.example.test"), 80, 0},
		{"wildcard resolving to loopback through 6to4", 1, 3, []byte("6to4.example.test"), 80, 2},
		{"wildcard resolving to local-use NAT64", 1, 3, []byte("nat64-local.example.test"), 80, 2},
		{"wildcard resolving to Teredo", 1, 3, []byte("teredo.example.test"), 80, 2},
		{"IPv6 loopback literal", 1, 4, v6("::1"), port, 2},
		{"wildcard resolving to IPv6 loopback", 1, 3, []byte("v6lo.example.test"), 80, 2},
		{"wildcard resolving to IPv6 link-local", 1, 3, []byte("v6ll.example.test"), 80, 2},
		{"wildcard resolving to IPv6 ULA", 1, 3, []byte("v6ula.example.test"), 80, 2},
		{"Alibaba metadata", 1, 1, v4("100.100.100.200"), 80, 2},
		{"unspecified", 1, 1, v4("0.0.0.0"), port, 2},
		{"wildcard resolving to unspecified", 1, 3, []byte("zero.example.test"), port, 2},
		{"wildcard resolving to this network", 1, 3, []byte("zero8.example.test"), port, 2},
		{"wildcard resolving to broadcast", 1, 3, []byte("bcast.example.test"), port, 2},
		{"multicast", 1, 1, v4("224.0.0.1"), 80, 2},
		{"UDP associate", 3, 3, []byte("a.example.test"), 53, 7},
		{"BIND", 2, 3, []byte("a.example.test"), 80, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial()
			defer c.Close()
			lookupsBefore, dialsBefore := h.net.counts()
			hitsBefore := hits.Load()
			got := socksRaw(t, c, tc.cmd, tc.atyp, tc.addr, tc.port)
			if got != tc.want {
				t.Fatalf("reply %d, want %d", got, tc.want)
			}
			lookups, dials := h.net.counts()
			if tc.want != 0 && dials != dialsBefore {
				t.Fatal("a refused request was dialled")
			}
			if bytes.ContainsAny(tc.addr, "\x00\n") && lookups != lookupsBefore {
				t.Fatal("a name with a control character was looked up")
			}
			if (tc.atyp != 3 || string(tc.addr) == "localhost") && lookups != lookupsBefore {
				t.Fatal("an address or localhost went to the resolver")
			}
			if tc.want == 0 {
				// The tunnel reaches the server: a request through it
				// works (with no Host: a Host must name the target).
				fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("through the tunnel: %v %v", resp, err)
				}
				resp.Body.Close()
			} else if hits.Load() != hitsBefore {
				t.Fatal("a refused request reached the server")
			}
		})
	}
	for _, d := range h.s.Decisions() {
		if d.Action == "allow" && netip.MustParseAddrPort(d.Addr).Addr().Unmap().IsLoopback() && d.Host != "localhost" {
			t.Errorf("loopback reached for %q", d.Host)
		}
	}
}

// socksRaw performs a SOCKS5 request with any address type and returns the reply code.
func socksRaw(t *testing.T, c net.Conn, cmd, atyp byte, addr []byte, port int) byte {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	c.Write([]byte{5, 1, 0})
	var g [2]byte
	if _, err := io.ReadFull(c, g[:]); err != nil || g != [2]byte{5, 0} {
		t.Fatalf("greeting: %v %v", g, err)
	}
	req := []byte{5, cmd, 0, atyp}
	if atyp == 3 {
		req = append(req, byte(len(addr)))
	}
	req = append(req, addr...)
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	c.Write(req)
	var rep [10]byte
	if _, err := io.ReadFull(c, rep[:]); err != nil {
		t.Fatalf("reply: %v", err)
	}
	return rep[1]
}

// TestSOCKSWithoutNoAuth: a client offering only authentication methods
// is told no method is acceptable, and nothing further is read.
func TestSOCKSWithoutNoAuth(t *testing.T) {
	h := newHarness(t, policy(t, ""), nil, nil)
	c := h.dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{5, 1, 2}) // username/password only
	var g [2]byte
	if _, err := io.ReadFull(c, g[:]); err != nil || g != [2]byte{5, 0xff} {
		t.Fatalf("greeting reply %v %v, want [5 255]", g, err)
	}
	if n, _ := c.Read(g[:]); n != 0 {
		t.Fatal("the connection stayed open after refusing every method")
	}
}

func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "audit.log")
	a, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	pol := policy(t, "[network]\ndeny = [\"x.test\"]\n")
	fn := newFakeNet()
	s, err := NewSession(context.Background(), Config{RunID: "r9", Command: "curl x", Policy: func() *workspace.Policy { return pol }, Audit: a, Resolver: fn, Dialer: fn, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := net.Dial("unix", s.SocketPath())
	socks(t, c, 1, "x.test", 443)
	c.Close()
	s.Close()
	a.Close()
	b, _ := os.ReadFile(path)
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(b))), &line); err != nil {
		t.Fatalf("audit %q: %v", b, err)
	}
	for k, want := range map[string]any{"run": "r9", "command": "curl x", "host": "x.test", "port": float64(443), "decision": "deny", "policyHash": pol.Hash} {
		if line[k] != want {
			t.Errorf("audit %s = %v, want %v", k, line[k], want)
		}
	}
	if !strings.HasSuffix(line["rule"].(string), ".sandbox.toml:2") {
		t.Errorf("audit rule = %v", line["rule"])
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("audit mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
		t.Errorf("audit directory mode %v", fi.Mode())
	}
	// Appending: a second log handle adds lines, never truncates.
	a2, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Record(Decision{Host: "y.test", Port: 1, Action: "allow"}); err != nil {
		t.Fatal(err)
	}
	a2.Close()
	if b2, _ := os.ReadFile(path); !strings.HasPrefix(string(b2), string(b)) || strings.Count(string(b2), "\n") != 2 {
		t.Errorf("audit after a second writer: %q", b2)
	}
}

// fdKinds counts open descriptors by what they point at (socket, pipe, …).
func fdKinds() map[string]int {
	kinds := map[string]int{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		kind, _, _ := strings.Cut(l, ":")
		kinds[kind]++
	}
	return kinds
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

var loadDuration = flag.Duration("load-duration", 2*time.Second, "how long TestLoadNoLeaks keeps its 200 tunnels busy (the issue's figure is 30s)")

// TestLoadNoLeaks keeps 200 concurrent connections (SOCKS5 and CONNECT
// tunnels echoing, and kept-alive plain requests through goproxy) busy
// through one session for -load-duration, checks every message
// came back intact, then that every goroutine and descriptor is returned.
func TestLoadNoLeaks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd, which only Linux has")
	}
	echo := echoServer(t)
	var hits atomic.Int32
	web := upstream(t, &hits)
	web.Config.SetKeepAlivesEnabled(true)
	pol := policy(t, "[network]\nallow = [\"echo.test\", \"web.test\"]\n")
	goroutines, fds := runtime.NumGoroutine(), openFDs()
	h := newHarness(t, pol, nil, nil)
	h.net.serve("echo.test", "203.0.113.60", 7, echo)
	h.net.serve("web.test", "203.0.113.61", 80, web.Listener.Addr().String())

	const conns = 200
	deadline := time.Now().Add(*loadDuration)
	var wg sync.WaitGroup
	var failures, messages atomic.Int64
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("unix", h.s.SocketPath())
			if err != nil {
				failures.Add(1)
				return
			}
			defer c.Close()
			if i%4 == 3 {
				// Plain proxy requests through goproxy, kept alive.
				br := bufio.NewReader(c)
				for r := 0; time.Now().Before(deadline) || r < 5; r++ {
					c.SetDeadline(time.Now().Add(30 * time.Second))
					fmt.Fprintf(c, "GET http://web.test/%d/%d HTTP/1.1\r\nHost: web.test\r\n\r\n", i, r)
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						failures.Add(1)
						return
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || string(body) != "hello from web.test" {
						failures.Add(1)
						return
					}
					messages.Add(1)
					time.Sleep(time.Millisecond)
				}
				return
			}
			if i%2 == 0 {
				if socks(t, c, 1, "echo.test", 7) != 0 {
					failures.Add(1)
					return
				}
			} else {
				fmt.Fprintf(c, "CONNECT echo.test:7 HTTP/1.1\r\nHost: echo.test:7\r\n\r\n")
				ok := make([]byte, len("HTTP/1.1 200 Connection established\r\n\r\n"))
				if _, err := io.ReadFull(c, ok); err != nil || !strings.HasPrefix(string(ok), "HTTP/1.1 200") {
					failures.Add(1)
					return
				}
			}
			buf := make([]byte, 64)
			for r := 0; time.Now().Before(deadline) || r < 5; r++ {
				msg := fmt.Sprintf("conn %d round %d", i, r)
				c.SetDeadline(time.Now().Add(30 * time.Second))
				c.Write([]byte(msg))
				if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil || string(buf[:len(msg)]) != msg {
					failures.Add(1)
					return
				}
				messages.Add(1)
				time.Sleep(time.Millisecond) // a chatty client, not a busy loop
			}
		}(i)
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d connections failed", failures.Load(), conns)
	}
	t.Logf("%d connections, %d echoed messages in %v", conns, messages.Load(), *loadDuration)
	h.s.Close()
	wait := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines+2 || openFDs() > fds+2 {
		if time.Now().After(wait) {
			var dump strings.Builder
			pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Fatalf("leak: goroutines %d → %d, fds %d → %d %v\n%s", goroutines, runtime.NumGoroutine(), fds, openFDs(), fdKinds(), dump.String())
		}
		// The runtime keeps splice pipes in a pool that only a collection
		// (and the pipes' finalizers) empties: that is a cache, not a leak.
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

func FuzzSOCKSRequest(f *testing.F) {
	f.Add([]byte{5, 1, 0, 3, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 80})
	f.Add([]byte{5, 1, 0, 1, 1, 2, 3, 4, 1, 187})
	f.Add([]byte{5, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 53})
	f.Add([]byte{5, 1, 0, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, code, err := readSOCKSRequest(strings.NewReader(string(data)))
		if err == nil {
			if code != 0 || req.Port < 1 || req.Port > 65535 || req.Host == "" {
				t.Fatalf("accepted %+v code %d", req, code)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	pol := &workspace.Policy{}
	for _, s := range []string{"*.example.com", "example.com:443", "10.0.0.7:5432", "[::1]:8080"} {
		r, err := workspace.ParseHostRule(s)
		if err != nil {
			f.Fatal(err)
		}
		pol.Network.Allow = append(pol.Network.Allow, r)
	}
	deny, _ := workspace.ParseHostRule("bad.example.com")
	pol.Network.Deny = append(pol.Network.Deny, deny)
	f.Add("a.example.com", 443)
	f.Add("example.com.evil.net", 80)
	f.Add("bad.example.com", 1)
	f.Fuzz(func(t *testing.T, host string, port int) {
		c, err := workspace.CanonicalHost(host)
		if err != nil {
			return
		}
		v, rule, ok := Match(pol, c, port)
		if ok != (v != Unknown) {
			t.Fatalf("verdict %v with ok=%v", v, ok)
		}
		if v == Allowed && !(strings.HasSuffix(c, ".example.com") || c == "example.com" || c == "10.0.0.7" || c == "[::1]") {
			t.Fatalf("%q:%d allowed by %+v", c, port, rule)
		}
		if c == "bad.example.com" && v != Denied {
			t.Fatal("deny did not win")
		}
	})
}
