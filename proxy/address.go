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

func classify(a netip.Addr) addrClass {
	a = a.Unmap()
	switch {
	case metadataAddr[a]:
		return metadata
	case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
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
// destination itself: an IP-literal rule for that address, or a
// "localhost" rule for loopback, or (not for metadata or loopback) an exact
// name rule with a port. A wildcard or an approval never does: a name that
// resolves to a private address counts as that address.
func explicitlyNamed(r workspace.HostRule, ruled bool, host string, a netip.Addr, class addrClass) bool {
	if !ruled {
		return false
	}
	if lit, err := netip.ParseAddr(strings.Trim(r.Host, "[]")); err == nil {
		return lit.Unmap() == a.Unmap()
	}
	switch class {
	case loopback:
		return r.Host == "localhost" && host == "localhost"
	case metadata, unusable:
		return false
	}
	return r.Port != 0 && r.Host == host && !strings.HasPrefix(r.Host, "*.")
}
