package proxy

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// benchSession is a session with the real resolver and dialer, allowing
// exactly the loopback port of addr (a literal rule with a port).
func benchSession(b *testing.B, addr string) *Session {
	b.Helper()
	ap := netip.MustParseAddrPort(addr)
	pol := policy(b, fmt.Sprintf("[network]\nallow = [\"127.0.0.1:%d\"]\nunknown = \"deny\"\n", ap.Port()))
	s, err := NewSession(context.Background(), Config{RunID: "bench", Policy: func() *workspace.Policy { return pol }, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

const connectOK = "HTTP/1.1 200 Connection established\r\n\r\n"

// openCONNECT opens a CONNECT tunnel through s to addr.
func openCONNECT(s *Session, addr string) (net.Conn, error) {
	c, err := net.Dial("unix", s.SocketPath())
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	buf := make([]byte, len(connectOK))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != connectOK {
		c.Close()
		return nil, fmt.Errorf("CONNECT: %q %v", buf, err)
	}
	return c, nil
}

// openSOCKS opens a SOCKS5 tunnel through s to addr (an IPv4 literal).
func openSOCKS(s *Session, addr string) (net.Conn, error) {
	c, err := net.Dial("unix", s.SocketPath())
	if err != nil {
		return nil, err
	}
	ap := netip.MustParseAddrPort(addr)
	a4 := ap.Addr().As4()
	req := append([]byte{5, 1, 0, 5, 1, 0, 1}, a4[:]...)
	req = binary.BigEndian.AppendUint16(req, ap.Port())
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	var rep [12]byte // method choice, then the reply
	if _, err := io.ReadFull(c, rep[:]); err != nil || rep[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("SOCKS: %v %v", rep, err)
	}
	return c, nil
}

func openDirect(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }

type opener struct {
	name string
	open func(s *Session, addr string) (net.Conn, error)
}

func openers() []opener {
	return []opener{
		{"direct", func(_ *Session, addr string) (net.Conn, error) { return openDirect(addr) }},
		{"connect", openCONNECT},
		{"socks", openSOCKS},
	}
}

// BenchmarkConnectSetup measures opening a connection and one 1-byte round
// trip over it: directly, and through a CONNECT and a SOCKS5 tunnel. The
// added setup latency is the difference of the medians.
func BenchmarkConnectSetup(b *testing.B) {
	echo := echoServer(b)
	s := benchSession(b, echo)
	for _, o := range openers() {
		b.Run(o.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			one := []byte{'x'}
			for b.Loop() {
				start := time.Now()
				c, err := o.open(s, echo)
				if err != nil {
					b.Fatal(err)
				}
				c.Write(one)
				if _, err := io.ReadFull(c, one); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
				c.Close()
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "median-µs")
		})
	}
}

// BenchmarkTunnelThroughput reads from a server that writes as fast as it
// can: directly over loopback, and through each tunnel (splice inside).
func BenchmarkTunnelThroughput(b *testing.B) {
	src := sourceServer(b)
	s := benchSession(b, src)
	const chunk = 1 << 20
	for _, o := range openers() {
		b.Run(o.name, func(b *testing.B) {
			c, err := o.open(s, src)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 256<<10)
			b.SetBytes(chunk)
			for b.Loop() {
				if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c, chunk), buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sourceServer writes zeros to every connection until it is closed.
func sourceServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		buf := make([]byte, 256<<10)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
