package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an upstream that keeps every byte it receives.
type recorder struct {
	mu  sync.Mutex
	got []byte
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.got...)
}

func recordingServer(t *testing.T) (string, *recorder) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rec := &recorder{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					rec.mu.Lock()
					rec.got = append(rec.got, buf[:n]...)
					rec.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), rec
}

// helloThrough opens a tunnel to allowed.test:443 (through a kept-alive
// connection first when keep is set) and starts TLS naming serverName; it
// returns the handshake's error.
func helloThrough(t *testing.T, h *harness, serverName string, keep bool) error {
	t.Helper()
	c := h.dial()
	defer c.Close()
	br := bufio.NewReader(c)
	if keep {
		// A plain request first: the CONNECT after it is read by goproxy.
		if resp, _ := roundTrip(t, c, br, "GET http://plain.test/ HTTP/1.1\r\nHost: plain.test\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	if resp, _ := roundTrip(t, c, br, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	c.SetDeadline(time.Now().Add(time.Second))
	tc := tls.Client(&bufConn{Conn: c, r: br}, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	return tc.Handshake()
}

func TestSNIMustMatch(t *testing.T) {
	up, rec := recordingServer(t)
	var hits = new(atomicCounter)
	plain := upstream(t, &hits.n)
	pol := policy(t, "[network]\nallow = [\"allowed.test\", \"plain.test\"]\n")
	h := newHarness(t, pol, nil, nil)
	h.net.serve("allowed.test", "203.0.113.50", 443, up)
	h.net.serve("plain.test", "203.0.113.51", 80, plain.Listener.Addr().String())

	for _, keep := range []bool{false, true} {
		before := len(rec.bytes())
		err := helloThrough(t, h, "fronted.example", keep)
		if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
			t.Errorf("keep=%v: a ClientHello for another name: handshake error %v, want unrecognized name", keep, err)
		}
		time.Sleep(50 * time.Millisecond)
		if got := rec.bytes()[before:]; len(got) != 0 {
			t.Errorf("keep=%v: %d bytes of the fronted hello reached upstream", keep, len(got))
		}
		// Positive control: the same tunnel naming the allowed host
		// passes the hello upstream (the recorder never answers, so the
		// handshake itself times out).
		before = len(rec.bytes())
		_ = helloThrough(t, h, "Allowed.Test", keep)
		if got := rec.bytes()[before:]; len(got) == 0 || got[0] != 0x16 {
			t.Errorf("keep=%v: the matching ClientHello did not reach upstream (%d bytes)", keep, len(got))
		}
	}
	var denied int
	for _, d := range h.s.Decisions() {
		if d.Action == "deny" {
			denied++
			if d.Reason != "sni-mismatch" || d.SNI != "fronted.example" || d.Host != "allowed.test" {
				t.Errorf("decision %+v", d)
			}
		}
	}
	if denied != 2 {
		t.Errorf("%d denials, want 2", denied)
	}
}

func TestTunnelHostMustMatch(t *testing.T) {
	up, rec := recordingServer(t)
	pol := policy(t, "[network]\nallow = [\"allowed.test\"]\n")
	h := newHarness(t, pol, nil, nil)
	h.net.serve("allowed.test", "203.0.113.50", 80, up)
	for _, tc := range []struct {
		host string
		pass bool
	}{{"fronted.example", false}, {"allowed.test:81", false}, {"ALLOWED.test", true}, {"allowed.test:80", true}} {
		c := h.dial()
		br := bufio.NewReader(c)
		if resp, _ := roundTrip(t, c, br, "CONNECT allowed.test:80 HTTP/1.1\r\nHost: allowed.test:80\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		before := len(rec.bytes())
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+tc.host+"\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		resp, err := http.ReadResponse(br, nil)
		time.Sleep(50 * time.Millisecond)
		got := rec.bytes()[before:]
		if tc.pass {
			if !bytes.HasPrefix(got, []byte("GET / HTTP/1.1\r\n")) {
				t.Errorf("Host %s: did not pass (%q)", tc.host, got)
			}
		} else {
			if len(got) != 0 {
				t.Errorf("Host %s: %d bytes reached upstream", tc.host, len(got))
			}
			if err != nil || resp.StatusCode != 403 {
				t.Errorf("Host %s: want a 403, got %v %v", tc.host, resp, err)
			}
		}
		c.Close()
	}
}

func TestReadClientHello(t *testing.T) {
	for _, name := range []string{"example.com", ""} {
		raw := captureHello(t, name, nil)
		got, h, err := readClientHello(bytes.NewReader(raw))
		if err != nil || h.serverName != name || !bytes.Equal(got, raw) {
			t.Errorf("%q: %+v %v (read %d of %d)", name, h, err, len(got), len(raw))
		}
		// Split into one-byte-payload records: still one ClientHello.
		split := splitRecords(raw[5:], 1)
		if _, h, err := readClientHello(bytes.NewReader(split)); err != nil || h.serverName != name {
			t.Errorf("%q split: %+v %v", name, h, err)
		}
		if _, _, err := readClientHello(bytes.NewReader(raw[:len(raw)-1])); err == nil {
			t.Errorf("%q: a truncated hello was read", name)
		}
	}
	for _, bad := range [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n"), {0x16, 3, 1, 0, 0}, {0x16, 3, 1, 0xff, 0xff}, {0x17, 3, 3, 0, 1, 0}} {
		if _, _, err := readClientHello(bytes.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// captureHello is the ClientHello crypto/tls sends for serverName.
func captureHello(t testing.TB, serverName string, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	if cfg == nil {
		cfg = &tls.Config{InsecureSkipVerify: true}
	}
	cfg.ServerName = serverName
	go func() {
		tls.Client(a, cfg).Handshake()
		a.Close()
	}()
	var hdr [5]byte
	io.ReadFull(b, hdr[:])
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	io.ReadFull(b, body)
	b.Close()
	return append(hdr[:], body...)
}

func splitRecords(msg []byte, n int) []byte {
	var out []byte
	for len(msg) > 0 {
		k := min(n, len(msg))
		out = append(out, 0x16, 3, 1, byte(k>>8), byte(k))
		out = append(out, msg[:k]...)
		msg = msg[k:]
	}
	return out
}

func FuzzReadClientHello(f *testing.F) {
	f.Add(captureHello(f, "example.com", nil))
	f.Add(captureHello(f, "", nil))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, h, err := readClientHello(bytes.NewReader(b))
		if !bytes.HasPrefix(b, raw) {
			t.Fatal("returned bytes that were not read")
		}
		if err == nil && len(raw) > maxHelloBytes {
			t.Fatal("over the bound")
		}
		_ = h
	})
}

type atomicCounter struct{ n atomic.Int32 }

// TestAbsoluteURIHostIsTheTarget: a plain-HTTP proxy request's Host header
// cannot front another site: the upstream sees the host of the request's
// URL, the one the policy decided, on the first request of a connection
// and on later ones alike.
func TestAbsoluteURIHostIsTheTarget(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	srv := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
	})
	pol := policy(t, "[network]\nallow = [\"plain.test\"]\n")
	h := newHarness(t, pol, nil, nil)
	h.net.serve("plain.test", "203.0.113.51", 80, srv)
	c := h.dial()
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		if resp, _ := roundTrip(t, c, br, "GET http://plain.test/ HTTP/1.1\r\nHost: fronted.example\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) != 2 || hosts[0] != "plain.test" || hosts[1] != "plain.test" {
		t.Errorf("upstream saw Host %q, want plain.test twice", hosts)
	}
}

func httptestServer(t *testing.T, f http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestSNIMustMatchOverSOCKS(t *testing.T) {
	up, rec := recordingServer(t)
	pol := policy(t, "[network]\nallow = [\"allowed.test\"]\n")
	h := newHarness(t, pol, nil, nil)
	h.net.serve("allowed.test", "203.0.113.50", 443, up)
	for _, name := range []string{"fronted.example", "allowed.test"} {
		c := h.dial()
		if socks(t, c, 1, "allowed.test", 443) != 0 {
			t.Fatal("SOCKS tunnel refused")
		}
		before := len(rec.bytes())
		c.SetDeadline(time.Now().Add(time.Second))
		tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true}).Handshake()
		c.Close()
		time.Sleep(50 * time.Millisecond)
		got := rec.bytes()[before:]
		if name == "allowed.test" && len(got) == 0 {
			t.Errorf("the matching hello did not pass")
		}
		if name != "allowed.test" && len(got) != 0 {
			t.Errorf("%d bytes of a fronted hello went upstream", len(got))
		}
	}
}
