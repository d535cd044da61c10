package proxy

import (
	"net/netip"
	"strings"

	"github.com/cordon-dev/cordon/workspace"
)

// addrClass sorts destinations the proxy treats specially.
type addrClass int

const (
	public addrClass = iota
	loopback
	private   // RFC 1918, ULA, CGNAT
	linkLocal // 169.254/16, fe80::/10
	metadata  // cloud instance metadata services
	unusable  // unspecified, multicast, broadcast
)

var (
	cgnat        = netip.MustParsePrefix("100.64.0.0/10")
	metadataAddr = map[netip.Addr]bool{
		netip.MustParseAddr("169.254.169.254"): true,
		netip.MustParseAddr("fd00:ec2::254"):   true,
		netip.MustParseAddr("100.100.100.200"): true, // Alibaba
		netip.MustParseAddr("169.254.170.2"):   true, // ECS task metadata
	}
)

var (
	nat64       = netip.MustParsePrefix("64:ff9b::/96")   // well-known NAT64: the low 32 bits are an IPv4 address
	nat64Local  = netip.MustParsePrefix("64:ff9b:1::/48") // local-use NAT64 (RFC 8215): site-specific
	sixToFour   = netip.MustParsePrefix("2002::/16")      // 6to4: bits 16-48 are an IPv4 address
	teredo      = netip.MustParsePrefix("2001::/32")      // Teredo tunnels: obsolete, never a real destination
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")      // "this network": Linux may route it to the host itself
	reserved4   = netip.MustParsePrefix("240.0.0.0/4")    // reserved, and the 255.255.255.255 broadcast
)

func classify(a netip.Addr) addrClass {
	a = a.Unmap()
	// IPv6 forms that carry an IPv4 address reach what that address
	// reaches (on a NAT64 network 64:ff9b::a9fe:a9fe is the metadata
	// service): judge the embedded address.
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return classify(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(a):
			return classify(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		case nat64Local.Contains(a):
			return private
		case teredo.Contains(a):
			return unusable
		}
	}
	switch {
	case metadataAddr[a]:
		return metadata
	case a.IsUnspecified() || a.IsMulticast() || thisNetwork.Contains(a) || reserved4.Contains(a):
		return unusable
	case a.IsLoopback():
		return loopback
	case a.IsLinkLocalUnicast():
		return linkLocal
	case a.IsPrivate() || cgnat.Contains(a):
		return private
	}
	return public
}

// explicitlyNamed reports whether the deciding rule names this special
// destination itself, so the user has chosen to open it:
//   - an IP-literal rule for exactly that address (10.0.0.7:5432);
//   - for loopback, a "localhost" rule, and only with a port: a bare
//     localhost would open every service on the host's loopback;
//   - for private and link-local addresses, an exact (non-wildcard) name
//     rule for this very name ("intranet.corp" resolving to 10.1.2.3).
//
// A wildcard, an approval or the default never does, and cloud metadata,
// unspecified and multicast addresses are opened only by a literal rule: a
// name that resolves to one of them counts as that address.
func explicitlyNamed(r workspace.HostRule, host string, a netip.Addr, class addrClass) bool {
	if lit, err := netip.ParseAddr(strings.Trim(r.Host, "[]")); err == nil {
		return lit.Unmap() == a.Unmap() && (class != loopback || r.Port != 0)
	}
	switch class {
	case loopback:
		return r.Host == "localhost" && host == "localhost" && r.Port != 0
	case private, linkLocal:
		return r.Host == host && !strings.HasPrefix(r.Host, "*.")
	}
	return false
}

// openingRule finds an allow rule for host:port that names the special
// address a explicitly. Deny rules were already applied by Match.
func openingRule(p *workspace.Policy, host string, port int, a netip.Addr, class addrClass) (workspace.HostRule, bool) {
	for _, r := range p.Network.Allow {
		if ruleMatches(r, host, port) && explicitlyNamed(r, host, a, class) {
			return r, true
		}
	}
	return workspace.HostRule{}, false
}
