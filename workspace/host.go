package workspace

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// maxHostLen is DNS's limit on a name's text form.
const maxHostLen = 253

// CanonicalHost is the form hosts are compared in: lower case, no trailing
// dot, IDNA (punycode) labels, IP literals normalised (IPv6 in brackets).
// NUL, control characters, spaces and over-long names are errors, never
// silently dropped: a host that does not canonicalise matches nothing.
func CanonicalHost(host string) (string, error) {
	if host == "" {
		return "", errors.New("empty host")
	}
	if len(host) > 4*maxHostLen {
		return "", fmt.Errorf("host name of %d bytes is too long", len(host))
	}
	if !utf8.ValidString(host) {
		return "", fmt.Errorf("host %q is not valid UTF-8", host)
	}
	for _, r := range host {
		if r < 0x20 || r == 0x7f || r == ' ' || r == '\t' {
			return "", fmt.Errorf("host %q holds a control character or space", host)
		}
	}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return "", fmt.Errorf("host %q: unclosed bracket", host)
		}
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("host %q: not an IPv6 address", host)
		}
		// An IPv4-mapped address is the IPv4 address: "[::ffff:10.0.0.1]"
		// must meet a rule on "10.0.0.1".
		if a = a.Unmap(); a.Is4() {
			return a.String(), nil
		}
		return "[" + a.String() + "]", nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("host %q: zones are not allowed", host)
		}
		a = a.Unmap()
		if a.Is6() {
			return "[" + a.String() + "]", nil
		}
		return a.String(), nil
	}
	h := strings.TrimSuffix(host, ".")
	if h == "" || strings.HasSuffix(h, ".") {
		return "", fmt.Errorf("host %q: empty label", host)
	}
	ascii, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return "", fmt.Errorf("host %q: %v", host, err)
	}
	ascii = strings.ToLower(ascii)
	// Only fixed points are canonical: a name IDNA maps to something it
	// would not accept again is refused rather than guessed at.
	if again, err := idna.Lookup.ToASCII(ascii); err != nil || again != ascii {
		return "", fmt.Errorf("host %q: not a valid internationalised name", host)
	}
	if len(ascii) > maxHostLen {
		return "", fmt.Errorf("host %q: longer than %d characters", host, maxHostLen)
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("host %q: bad label length", host)
		}
	}
	// A dotted all-numeric name that is not a valid IPv4 address (1.2.3,
	// 0x7f.1) is read by some resolvers as an address: refuse it.
	if looksNumeric(ascii) {
		return "", fmt.Errorf("host %q: not a valid IP address", host)
	}
	return ascii, nil
}

func looksNumeric(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	_, err := strconv.ParseUint(last, 10, 64)
	return err == nil
}

// ParseHostRule parses "name", "*.suffix", an IP literal or "[v6]", each
// with an optional ":port".
func ParseHostRule(s string) (HostRule, error) {
	r := HostRule{Pattern: s}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return r, fmt.Errorf("host %q: unclosed bracket", s)
		}
		host, port = s[:end+1], strings.TrimPrefix(s[end+1:], ":")
		if s[end+1:] != "" && !strings.HasPrefix(s[end+1:], ":") {
			return r, fmt.Errorf("host %q: junk after ]", s)
		}
	case strings.Count(s, ":") == 1:
		i := strings.IndexByte(s, ':')
		host, port = s[:i], s[i+1:]
	case strings.Count(s, ":") > 1:
		return r, fmt.Errorf("host %q: put IPv6 addresses in brackets ([::1]:8080)", s)
	}
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
			return r, fmt.Errorf("host %q: port must be 1-65535", s)
		}
		r.Port = n
	}
	wild := strings.HasPrefix(host, "*.")
	if wild {
		host = host[2:]
	}
	if host == "*" || strings.Contains(host, "*") {
		return r, fmt.Errorf("host %q: only a leading *. is allowed (*.example.com); there is no allow-everything host", s)
	}
	c, err := CanonicalHost(host)
	if err != nil {
		return r, err
	}
	if wild {
		if strings.HasPrefix(c, "[") {
			return r, fmt.Errorf("host %q: a wildcard needs a name", s)
		}
		if _, err := netip.ParseAddr(c); err == nil {
			return r, fmt.Errorf("host %q: a wildcard needs a name", s)
		}
		c = "*." + c
	}
	r.Host = c
	return r, nil
}

// MatchHost reports whether the canonical host h matches the canonical rule
// host pattern: equal, or for "*.suffix" a subdomain at any depth (not the
// suffix itself).
func MatchHost(pattern, h string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(h, "."+suffix)
	}
	return pattern == h
}
