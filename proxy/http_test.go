package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// trap is a listener standing in for a proxy in cordon's own environment:
// nothing may ever connect to it.
func trap(t *testing.T) (addr string, accepts *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepts = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), accepts
}

// roundTrip writes a raw request on c and reads the response and its body.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%q: %v", strings.SplitN(raw, "\r\n", 2)[0], err)
	}
	if strings.HasPrefix(raw, "CONNECT") && resp.StatusCode == 200 {
		return resp, ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestGoproxyPaths drives goproxy itself (a CONNECT after a plain request
// on a kept-alive connection) with an environment pointing at a trap
// proxy: decisions still apply, and nothing chains to the trap.
func TestGoproxyPaths(t *testing.T) {
	trapAddr, trapped := trap(t)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		t.Setenv(k, "http://"+trapAddr)
	}
	var hits atomic.Int32
	plain := upstream(t, &hits)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure hello")
	}))
	defer tlsSrv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(tlsSrv.Certificate())

	pol := policy(t, "[network]\nallow = [\"plain.test\", \"example.com:443\"]\ndeny = [\"bad.test\"]\nunknown = \"deny\"\n")
	h := newHarness(t, pol, nil, roots)
	h.net.serve("plain.test", "203.0.113.70", 80, plain.Listener.Addr().String())
	h.net.serve("example.com", "203.0.113.71", 443, tlsSrv.Listener.Addr().String())
	h.net.serve("bad.test", "203.0.113.72", 443, tlsSrv.Listener.Addr().String())

	c := h.dial()
	defer c.Close()
	br := bufio.NewReader(c)
	resp, body := roundTrip(t, c, br, "GET http://plain.test/a HTTP/1.1\r\nHost: plain.test\r\n\r\n")
	if resp.StatusCode != 200 || !strings.Contains(body, "hello from plain.test") {
		t.Fatalf("plain GET: %d %q", resp.StatusCode, body)
	}
	// Same connection: a refused CONNECT, handled by goproxy.
	resp, body = roundTrip(t, c, br, "CONNECT bad.test:443 HTTP/1.1\r\nHost: bad.test:443\r\n\r\n")
	if resp.StatusCode != 403 || resp.Header.Get("X-Cordon-Decision") != "denied" ||
		!strings.HasPrefix(body, "cordon: the sandbox refused bad.test:443: denied by ") {
		t.Fatalf("refused CONNECT via goproxy: %d %v %q", resp.StatusCode, resp.Header, body)
	}

	c2 := h.dial()
	defer c2.Close()
	br2 := bufio.NewReader(c2)
	if resp, _ := roundTrip(t, c2, br2, "GET http://plain.test/b HTTP/1.1\r\nHost: plain.test\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("second GET: %d", resp.StatusCode)
	}
	if resp, _ := roundTrip(t, c2, br2, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("CONNECT via goproxy: %d", resp.StatusCode)
	}
	tc := tls.Client(&bufConn{Conn: c2, r: br2}, &tls.Config{ServerName: "example.com", RootCAs: roots})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if resp, body := roundTrip(t, tc, bufio.NewReader(tc), "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"); body != "secure hello" {
		t.Fatalf("through goproxy's tunnel: %d %q", resp.StatusCode, body)
	}
	if n := trapped.Load(); n != 0 {
		t.Fatalf("the environment's proxy was used %d times", n)
	}
	h.net.mu.Lock()
	dialed := strings.Join(h.net.dialed, " ")
	h.net.mu.Unlock()
	// Only checked addresses are dialled (the GETs may share a pooled one).
	if !strings.Contains(dialed, "203.0.113.70:80") || !strings.Contains(dialed, "203.0.113.71:443") || strings.Contains(dialed, "203.0.113.72") {
		t.Fatalf("dialled %q", dialed)
	}
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestAbsoluteHTTPSVerifiesUpstream: for "GET https://…" goproxy makes the
// TLS connection itself, and must verify it.
func TestAbsoluteHTTPSVerifiesUpstream(t *testing.T) {
	var reached atomic.Int32
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, "secure hello")
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	pol := policy(t, "[network]\nallow = [\"example.com:443\"]\n")
	for _, trusted := range []bool{false, true} {
		var roots *x509.CertPool
		if trusted {
			roots = x509.NewCertPool()
			roots.AddCert(tlsSrv.Certificate())
		}
		h := newHarness(t, pol, nil, roots)
		h.net.serve("example.com", "203.0.113.80", 443, tlsSrv.Listener.Addr().String())
		c := h.dial()
		resp, body := roundTrip(t, c, bufio.NewReader(c), "GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
		c.Close()
		switch {
		case trusted && (resp.StatusCode != 200 || body != "secure hello"):
			t.Fatalf("trusted upstream: %d %q", resp.StatusCode, body)
		case !trusted && resp.StatusCode == 200:
			t.Fatalf("an unverifiable upstream was accepted: %q", body)
		}
		h.s.Close()
	}
	if reached.Load() != 1 {
		t.Fatalf("upstream handler ran %d times, want once (trusted only)", reached.Load())
	}
}

// TestCloseEndsEverything: open tunnels of every kind, then Close; each
// client sees its connection end, and the socket directory is gone.
func TestCloseEndsEverything(t *testing.T) {
	echo := echoServer(t)
	var hits atomic.Int32
	plain := upstream(t, &hits)
	pol := policy(t, "[network]\nallow = [\"echo.test\", \"plain.test\"]\n")
	h := newHarness(t, pol, nil, nil)
	h.net.serve("echo.test", "203.0.113.90", 7, echo)
	h.net.serve("plain.test", "203.0.113.91", 80, plain.Listener.Addr().String())

	dir := filepath.Dir(h.s.SocketPath())
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory: %v %v", fi.Mode(), err)
	}

	socksC := h.dial()
	if socks(t, socksC, 1, "echo.test", 7) != 0 {
		t.Fatal("SOCKS tunnel refused")
	}
	connectC := h.dial()
	br := bufio.NewReader(connectC)
	if resp, _ := roundTrip(t, connectC, br, "CONNECT echo.test:7 HTTP/1.1\r\nHost: echo.test:7\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	keepC := h.dial()
	if resp, _ := roundTrip(t, keepC, bufio.NewReader(keepC), "GET http://plain.test/ HTTP/1.1\r\nHost: plain.test\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	for _, c := range []net.Conn{socksC, connectC} {
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo before close: %q %v", buf, err)
		}
	}

	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range []net.Conn{socksC, connectC, keepC} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("conn %d after Close: %d bytes, %v (want EOF)", i, n, err)
		}
		c.Close()
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("socket directory left behind: %v", err)
	}
	if _, err := net.Dial("unix", h.s.SocketPath()); err == nil {
		t.Fatal("still accepting after Close")
	}
}

// TestReloadTightensNextDecision: Policy is read per decision.
func TestReloadTightensNextDecision(t *testing.T) {
	var hits atomic.Int32
	srv := upstream(t, &hits)
	open := policy(t, "[network]\nallow = [\"plain.test\"]\n")
	closed := policy(t, "[network]\ndeny = [\"plain.test\"]\n")
	var cur atomic.Pointer[workspace.Policy]
	cur.Store(open)
	fn := newFakeNet()
	fn.serve("plain.test", "203.0.113.95", 80, srv.Listener.Addr().String())
	s, err := NewSession(context.Background(), Config{Policy: cur.Load, Resolver: fn, Dialer: fn, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := &harness{t: t, s: s, net: fn}
	c := h.client(nil)
	for i, want := range []int{200, 403} {
		resp, err := c.Get("http://plain.test/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
		cur.Store(closed)
	}
	if d := s.Decisions(); d[1].PolicyHash != closed.Hash || d[1].Reason != "rule" {
		t.Fatalf("second decision %+v", d[1])
	}
}

// TestSpecialAddressRules decides directly: which rules open loopback and
// private destinations.
func TestSpecialAddressRules(t *testing.T) {
	pol := policy(t, "[network]\nallow = [\"localhost\", \"127.0.0.1\", \"[::1]:8080\", \"*.corp.test\", \"db.corp.test:5432\"]\nunknown = \"ask\"\n")
	approver := ApproverFunc(func(context.Context, Question) (Answer, error) { return AllowAlways, nil })
	h := newHarness(t, pol, approver, nil)
	h.net.serve("db.corp.test", "10.0.0.5", 5432, "127.0.0.1:1")
	h.net.serve("web.corp.test", "10.0.0.6", 443, "127.0.0.1:1")
	h.net.serve("asked.test", "192.168.1.1", 80, "127.0.0.1:1")
	for _, tc := range []struct {
		host   string
		port   int
		allow  bool
		reason string
	}{
		{"localhost", 22, false, "private-address"},      // a bare localhost rule opens no host port
		{"127.0.0.1", 22, false, "private-address"},      // nor does a bare 127.0.0.1
		{"[::1]", 8080, true, "rule"},                    // a literal with a port does
		{"[::1]", 8081, false, "private-address"},        // approved, but loopback needs a rule
		{"db.corp.test", 5432, true, "rule"},             // the exact name the user wrote
		{"web.corp.test", 443, false, "private-address"}, // a wildcard never opens private space
		{"asked.test", 80, false, "private-address"},     // an approval never does either
	} {
		tg, d := h.s.decide(tc.host, tc.port)
		if (d.Action == "allow") != tc.allow || (tc.allow && !tg.addr.IsValid()) {
			t.Errorf("%s:%d: %s (%s), want allow=%v", tc.host, tc.port, d.Action, d.Reason, tc.allow)
		}
		if !tc.allow && d.Action == "deny" && d.Reason != tc.reason {
			t.Errorf("%s:%d: reason %q, want %q", tc.host, tc.port, d.Reason, tc.reason)
		}
	}
	if _, dials := h.net.counts(); dials != 0 {
		t.Fatal("decide dialled")
	}
}

// echoServer echoes every connection; it returns its address.
func echoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestRefusalBody: the one-line body names HOST:PORT (IPv6 bracketed once)
// and the deciding cause, "default" when no rule decided; it is not the
// report's "cordon: blocked" line, which would then show twice.
func TestRefusalBody(t *testing.T) {
	pol := policy(t, "[network]\nunknown = \"deny\"\n")
	pol.Network.UnknownSource = workspace.Source{} // as with no file at all
	h := newHarness(t, pol, nil, nil)
	for raw, want := range map[string]string{
		"GET http://[::1]:9/ HTTP/1.1\r\nHost: x\r\n\r\n":    "cordon: the sandbox refused [::1]:9: no rule allows it and unknown hosts are denied (default)\n",
		"CONNECT [::1]:22 HTTP/1.1\r\nHost: x\r\n\r\n":       "cordon: the sandbox refused [::1]:22: no rule allows it and unknown hosts are denied (default)\n",
		"GET http://Some.Host./ HTTP/1.1\r\nHost: x\r\n\r\n": "cordon: the sandbox refused some.host:80: no rule allows it and unknown hosts are denied (default)\n",
	} {
		c := h.dial()
		resp, body := roundTrip(t, c, bufio.NewReader(c), raw)
		c.Close()
		if resp.StatusCode != 403 || resp.Header.Get("X-Cordon-Decision") != "denied" || body != want {
			t.Errorf("%q: %d %q, want 403 %q", raw, resp.StatusCode, body, want)
		}
	}
	if l, d := h.net.counts(); l != 0 || d != 0 {
		t.Fatalf("refusals by default looked up %d names and dialled %d", l, d)
	}
}

// TestContextEndsSession: cancelling the run's context closes the session
// and its tunnels without a Close call.
func TestContextEndsSession(t *testing.T) {
	echo := echoServer(t)
	pol := policy(t, "[network]\nallow = [\"echo.test\"]\n")
	fn := newFakeNet()
	fn.serve("echo.test", "203.0.113.99", 7, echo)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewSession(ctx, Config{Policy: func() *workspace.Policy { return pol }, Resolver: fn, Dialer: fn, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("unix", s.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if socks(t, c, 1, "echo.test", 7) != 0 {
		t.Fatal("tunnel refused")
	}
	cancel()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("tunnel after cancel: %v (want EOF)", err)
	}
	s.Close() // waits for the context's Close to finish
	if _, err := os.Stat(s.SocketPath()); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, err := NewSession(ctx, Config{Policy: func() *workspace.Policy { return pol }, Dir: t.TempDir()}); err == nil {
		t.Fatal("a session started on a cancelled context")
	}
}

// TestSOCKSPipelined: the in-sandbox relay sends greeting and request in
// one write; nothing of the request may be lost to a read-ahead.
func TestSOCKSPipelined(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, policy(t, "[network]\nallow = [\"echo.test:7\"]\n"), nil, nil)
	h.net.serve("echo.test", "203.0.113.98", 7, echo)
	c := h.dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := append([]byte{5, 1, 0, 5, 1, 0, 3, 9}, "echo.test"...)
	req = append(req, 0, 7)
	req = append(req, "early data"...) // sent before the reply, as a fast client may
	c.Write(req)
	reply := make([]byte, 12+len("early data"))
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatal(err)
	}
	if reply[1] != 0 || reply[3] != 0 || string(reply[12:]) != "early data" {
		t.Fatalf("reply %v %q", reply[:12], reply[12:])
	}
}

// TestCONNECTEarlyData: bytes sent right behind the CONNECT request (a
// TLS ClientHello from an impatient client) are forwarded, not dropped.
func TestCONNECTEarlyData(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, policy(t, "[network]\nallow = [\"echo.test:7\"]\n"), nil, nil)
	h.net.serve("echo.test", "203.0.113.97", 7, echo)
	c := h.dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	early := strings.Repeat("early data ", 1000) // more than one bufio fill
	io.WriteString(c, "CONNECT echo.test:7 HTTP/1.1\r\nHost: echo.test:7\r\n\r\n"+early)
	got := make([]byte, len(connectOK)+len(early))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got[:len(connectOK)]) != connectOK || string(got[len(connectOK):]) != early {
		t.Fatalf("got %q…", got[:80])
	}
}
