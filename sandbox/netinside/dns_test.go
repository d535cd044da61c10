package netinside

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t testing.TB, name string, typ dnsmessage.Type) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	b.StartQuestions()
	n, err := dnsmessage.NewName(name)
	if err != nil {
		t.Fatal(err)
	}
	b.Question(dnsmessage.Question{Name: n, Type: typ, Class: dnsmessage.ClassINET})
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parseAnswer(t *testing.T, msg []byte) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(msg); err != nil {
		t.Fatal(err)
	}
	if m.ID != 7 || !m.Response {
		t.Fatalf("bad header %+v", m.Header)
	}
	var as []netip.Addr
	for _, a := range m.Answers {
		if r, ok := a.Body.(*dnsmessage.AResource); ok {
			as = append(as, netip.AddrFrom4(r.A))
		}
	}
	return m.RCode, as
}

func TestPoolAnswers(t *testing.T) {
	p, err := NewPool(DefaultPool)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Answer(query(t, "GitHub.COM.", dnsmessage.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	rc, as := parseAnswer(t, out)
	if rc != dnsmessage.RCodeSuccess || len(as) != 1 || !DefaultPool.Contains(as[0]) {
		t.Fatalf("A github.com: %v %v", rc, as)
	}
	if name, ok := p.Name(as[0]); !ok || name != "github.com" {
		t.Fatalf("%s maps back to %q, want the canonical github.com", as[0], name)
	}
	// The same name keeps its address; another gets another.
	out, _ = p.Answer(query(t, "github.com.", dnsmessage.TypeA))
	if _, again := parseAnswer(t, out); len(again) != 1 || again[0] != as[0] {
		t.Fatalf("second answer %v, want %v", again, as)
	}
	other, _ := p.AddrFor("example.org")
	if other == as[0] {
		t.Fatal("two names share one address")
	}
	// AAAA: no records, so clients use IPv4 and land in the pool.
	out, _ = p.Answer(query(t, "github.com.", dnsmessage.TypeAAAA))
	if rc, as := parseAnswer(t, out); rc != dnsmessage.RCodeSuccess || len(as) != 0 {
		t.Fatalf("AAAA: %v %v", rc, as)
	}
	// Names that cannot be hosts get NXDOMAIN and no address.
	for _, bad := range []string{"a\x00b.example.com.", "127.0.0.1."} {
		out, err := p.Answer(query(t, bad, dnsmessage.TypeA))
		if err != nil {
			t.Fatal(err)
		}
		if rc, as := parseAnswer(t, out); rc != dnsmessage.RCodeNameError || len(as) != 0 {
			t.Errorf("%q: %v %v, want NXDOMAIN", bad, rc, as)
		}
	}
}

func TestPoolExhaustion(t *testing.T) {
	p, err := NewPool(netip.MustParsePrefix("198.18.0.0/30"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddrFor("a.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddrFor("b.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddrFor("c.test"); err != ErrPoolFull {
		t.Fatalf("third name in a /30: %v, want ErrPoolFull", err)
	}
	if _, err := NewPool(netip.MustParsePrefix("fd00::/64")); err == nil {
		t.Error("IPv6 pool accepted")
	}
}

func TestServeDNSOverUDP(t *testing.T) {
	p, _ := NewPool(DefaultPool)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.ServeDNS(ctx, pc) }()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("udp4", pc.LocalAddr().String())
	}}
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
	defer lcancel()
	addrs, err := r.LookupNetIP(lctx, "ip4", "registry.npmjs.org")
	if err != nil || len(addrs) != 1 || !DefaultPool.Contains(addrs[0]) {
		t.Fatalf("Go's resolver against ServeDNS: %v %v", addrs, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ServeDNS did not return within 30s of its context's end")
	}
}

// FuzzDNSAnswer: any bytes as a query must give an error or a response
// that parses, never a panic, and only pool addresses.
func FuzzDNSAnswer(f *testing.F) {
	f.Add(query(f, "github.com.", dnsmessage.TypeA))
	f.Add(query(f, "x.", dnsmessage.TypeAAAA))
	f.Add(query(f, "a\x00b.test.", dnsmessage.TypeA))
	f.Add([]byte{0, 7, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, q []byte) {
		p, _ := NewPool(netip.MustParsePrefix("198.18.0.0/29"))
		out, err := p.Answer(q)
		if err != nil {
			return
		}
		var m dnsmessage.Message
		if err := m.Unpack(out); err != nil {
			t.Fatalf("unparsable response %x: %v", out, err)
		}
		for _, a := range m.Answers {
			if r, ok := a.Body.(*dnsmessage.AResource); ok && !DefaultPool.Contains(netip.AddrFrom4(r.A)) {
				t.Fatalf("answered %v outside the pool", r.A)
			}
		}
	})
}
