package netinside

// Issue 3 bullet 6, the name side: a DNS responder that answers every A
// query with an address from a private pool and remembers which name it
// gave out, so a connection to a pool address can be sent to the proxy by
// that name (Supervisor, in notify_linux.go).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/net/dns/dnsmessage"
)

// DefaultPool is 198.18.0.0/15, the benchmarking range (RFC 2544): never
// routed on the internet, so a pool address means "ours".
var DefaultPool = netip.MustParsePrefix("198.18.0.0/15")

// Pool hands out one IPv4 address per canonical host name and maps it back.
type Pool struct {
	prefix netip.Prefix

	mu     sync.Mutex
	next   netip.Addr
	byName map[string]netip.Addr
	byAddr map[netip.Addr]string
}

// NewPool returns a pool over an IPv4 prefix.
func NewPool(prefix netip.Prefix) (*Pool, error) {
	if !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("netinside: pool %s: want an IPv4 prefix of /30 or wider", prefix)
	}
	prefix = prefix.Masked()
	return &Pool{
		prefix: prefix,
		next:   prefix.Addr().Next(), // skip the network address
		byName: map[string]netip.Addr{},
		byAddr: map[netip.Addr]string{},
	}, nil
}

// ErrPoolFull is returned when every address of the pool is taken.
var ErrPoolFull = errors.New("netinside: address pool exhausted")

// AddrFor returns the pool address for host, allocating one the first
// time. host is canonicalised; names the proxy would refuse anyway (NUL,
// control characters, over-long) get an error and no address.
func (p *Pool) AddrFor(host string) (netip.Addr, error) {
	name, err := workspace.CanonicalHost(host)
	if err != nil {
		return netip.Addr{}, err
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return netip.Addr{}, fmt.Errorf("netinside: %q is an address, not a name", host)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.byName[name]; ok {
		return a, nil
	}
	a := p.next
	if !p.prefix.Contains(a) || !p.prefix.Contains(a.Next()) { // keep the broadcast address free
		return netip.Addr{}, ErrPoolFull
	}
	p.next = a.Next()
	p.byName[name] = a
	p.byAddr[a] = name
	return a, nil
}

// Name returns the host name a pool address was given out for.
func (p *Pool) Name(a netip.Addr) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name, ok := p.byAddr[a.Unmap()]
	return name, ok
}

// Contains reports whether a belongs to the pool's range.
func (p *Pool) Contains(a netip.Addr) bool { return p.prefix.Contains(a.Unmap()) }

// Answer builds the response to one DNS query message: A records from
// the pool (TTL 60), an empty answer for other types of a valid name (so
// clients fall back to IPv4), NXDOMAIN for names that cannot be hosts,
// FORMERR for what does not parse as a single-question query.
func (p *Pool) Answer(query []byte) ([]byte, error) {
	var parser dnsmessage.Parser
	h, err := parser.Start(query)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	if h.Response {
		return nil, errors.New("dns: not a query")
	}
	qs, err := parser.AllQuestions()
	resp := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if err != nil || len(qs) != 1 || h.OpCode != 0 {
		resp.RCode = dnsmessage.RCodeFormatError
		b := dnsmessage.NewBuilder(nil, resp)
		return b.Finish()
	}
	q := qs[0]
	name := strings.TrimSuffix(q.Name.String(), ".")
	var addr netip.Addr
	if q.Class == dnsmessage.ClassINET && (q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeAAAA) {
		addr, err = p.AddrFor(name)
		if err != nil {
			resp.RCode = dnsmessage.RCodeNameError
			if errors.Is(err, ErrPoolFull) {
				resp.RCode = dnsmessage.RCodeServerFailure
			}
		}
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), resp)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if resp.RCode == dnsmessage.RCodeSuccess && q.Type == dnsmessage.TypeA && addr.IsValid() {
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		rh := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}
		if err := b.AResource(rh, dnsmessage.AResource{A: addr.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// ServeDNS answers queries on pc until ctx ends or pc is closed.
func (p *Pool) ServeDNS(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dns: %w", err)
		}
		if out, err := p.Answer(buf[:n]); err == nil {
			_, _ = pc.WriteTo(out, from)
		}
	}
}
