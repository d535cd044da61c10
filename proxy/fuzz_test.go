package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// refusingDialer records what the proxy tried to dial and connects nothing.
type refusingDialer struct {
	mu     sync.Mutex
	dialed []string
}

func (d *refusingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	return nil, errors.New("fuzz: no network")
}

// FuzzFrontDoor feeds arbitrary first bytes (HTTP, CONNECT, SOCKS5 or
// junk) to a live session whose policy allows exactly one name: whatever
// the input, the only address ever dialled is that name's.
func FuzzFrontDoor(f *testing.F) {
	for _, seed := range []string{
		"CONNECT ok.test:443 HTTP/1.1\r\nHost: ok.test:443\r\n\r\n",
		"CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n",
		"GET http://ok.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\nGET http://evil.test/ HTTP/1.1\r\n\r\n",
		"GET http://ok.test\x00.evil/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n",
		"\x05\x01\x00\x05\x01\x00\x03\x07ok.test\x01\xbb",
		"\x05\x01\x00\x05\x01\x00\x03\x0cok.test\x00.evil\x01\xbb",
		"\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x16",
		"\x05\x01\x00\x05\x03\x00\x03\x07ok.test\x00\x35",
	} {
		f.Add([]byte(seed))
	}
	pol := &workspace.Policy{}
	r, err := workspace.ParseHostRule("ok.test")
	if err != nil {
		f.Fatal(err)
	}
	pol.Network.Allow = []workspace.HostRule{r}
	fn := newFakeNet()
	fn.names["ok.test"] = netip.MustParseAddr("203.0.113.7")
	fn.names["evil.test"] = netip.MustParseAddr("203.0.113.66")
	dialer := &refusingDialer{}
	s, err := NewSession(context.Background(), Config{
		Policy: func() *workspace.Policy { return pol }, Resolver: fn, Dialer: dialer, Dir: f.TempDir(),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("unix", s.SocketPath())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(data)
		c.(*net.UnixConn).CloseWrite()
		io.Copy(io.Discard, c)
		dialer.mu.Lock()
		defer dialer.mu.Unlock()
		for _, a := range dialer.dialed {
			if ap, err := netip.ParseAddrPort(a); err != nil || ap.Addr() != netip.MustParseAddr("203.0.113.7") {
				t.Fatalf("input %q dialled %s", data, a)
			}
		}
		dialer.dialed = dialer.dialed[:0]
	})
}
