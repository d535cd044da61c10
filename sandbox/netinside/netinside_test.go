package netinside

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProxy is a unix-socket server that, like the real proxy, tells
// SOCKS5 from anything else by the first byte: SOCKS requests for a host
// in allow are granted and then echoed, others refused with reply 2;
// other streams are echoed as they are.
type fakeProxy struct {
	sock  string
	allow map[string]bool

	mu    sync.Mutex
	asked []string
}

func newFakeProxy(t *testing.T, allow ...string) *fakeProxy {
	t.Helper()
	p := &fakeProxy{sock: filepath.Join(t.TempDir(), "proxy.sock"), allow: map[string]bool{}}
	for _, a := range allow {
		p.allow[a] = true
	}
	ln, err := net.Listen("unix", p.sock)
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
			go p.handle(c)
		}
	}()
	return p
}

func (p *fakeProxy) handle(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	if first[0] == 5 {
		var greet [3]byte
		if _, err := io.ReadFull(br, greet[:]); err != nil {
			return
		}
		c.Write([]byte{5, 0})
		var head [5]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return
		}
		name := make([]byte, int(head[4])+2)
		if _, err := io.ReadFull(br, name); err != nil {
			return
		}
		host := string(name[:len(name)-2])
		port := binary.BigEndian.Uint16(name[len(name)-2:])
		key := net.JoinHostPort(host, itoa(int(port)))
		p.mu.Lock()
		p.asked = append(p.asked, key)
		p.mu.Unlock()
		if !p.allow[key] {
			c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	}
	io.Copy(c, br)
}

func (p *fakeProxy) questions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

func itoa(n int) string { return strconv.Itoa(n) }

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func roundTrip(t *testing.T, addr, msg string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestJoin: bytes go through both ways unchanged, half-close included
// (the bridge relays every sandbox connection to the proxy with Join).
func TestJoin(t *testing.T) {
	p := newFakeProxy(t) // echoes whatever is not SOCKS
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.sock, Net: "unix"})
		if err != nil {
			c.Close()
			return
		}
		defer up.Close()
		defer c.Close()
		Join(c.(*net.TCPConn), up)
	}()
	msg := "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n" + strings.Repeat("x", 1<<20)
	got, err := roundTrip(t, ln.Addr().String(), msg)
	if err != nil || got != msg {
		t.Fatalf("Join returned %d bytes (err %v), want the %d sent", len(got), err, len(msg))
	}
}

func TestSOCKSConnectRefusal(t *testing.T) {
	p := newFakeProxy(t)
	c, err := net.Dial("unix", p.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = SOCKSConnect(context.Background(), c, "denied.example", 443)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	for _, host := range []string{"", strings.Repeat("a", 256)} {
		if err := SOCKSConnect(context.Background(), c, host, 443); err == nil {
			t.Errorf("host of %d bytes accepted", len(host))
		}
	}
}

// FuzzSOCKSReply feeds SOCKSConnect arbitrary server answers: it must
// return (never hang or panic) and succeed only on a well-formed grant.
func FuzzSOCKSReply(f *testing.F) {
	f.Add([]byte{5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 80})
	f.Add([]byte{5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{5, 0, 5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 1})
	f.Add([]byte{5, 0, 5, 0, 0, 4})
	f.Add([]byte{5, 0xff})
	f.Fuzz(func(t *testing.T, reply []byte) {
		a, b := net.Pipe()
		defer a.Close()
		go func() {
			io.Copy(io.Discard, io.LimitReader(b, 0))
			buf := make([]byte, 512)
			b.Read(buf)
			b.Write(reply)
			b.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := SOCKSConnect(ctx, a, "example.com", 443)
		if err == nil && (len(reply) < 10 || !bytes.Equal(reply[:4], []byte{5, 0, 5, 0})) {
			t.Fatalf("accepted malformed reply %x", reply)
		}
	})
}
