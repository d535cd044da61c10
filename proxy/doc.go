// Package proxy is cordon's network filter: one listener per run (a unix
// socket in a fresh 0700 directory, which the sandbox's bridge relays to)
// speaking HTTP (absolute-URI requests and CONNECT, through goproxy) and
// SOCKS5 (CONNECT only), told apart by the first byte.
//
// Every connection is decided the same way:
//
//  1. The host is canonicalised (workspace.CanonicalHost); a host that does
//     not canonicalise (NUL, control characters, over-long, numeric
//     spellings of addresses) is refused and nothing is looked up.
//  2. Deny rules win, then allow rules (Match). A denial by name, and a
//     default denial of an unknown host, resolve nothing.
//  3. An unknown host goes to the Approver (one question per host:port at
//     a time; the answer, whatever it is, holds for the rest of the run,
//     so a run is asked once per destination, not once per connection).
//     No answer in time, or an error, is a denial.
//  4. The name is resolved once, here on the host. Loopback, private
//     (RFC 1918, fc00::/7, CGNAT), link-local, cloud-metadata, unspecified
//     and multicast addresses, IPv4-mapped, NAT64 or 6to4 forms included,
//     are refused unless an allow rule names that destination explicitly
//     (see below).
//  5. The proxy dials exactly the address it checked, never the name
//     again, so a second DNS answer cannot rebind the connection.
//
// A rule names a special destination explicitly when it is an IP-literal
// rule for exactly that address ("10.0.0.7:5432"); for loopback, only
// "localhost" or a literal, and only with a port, since a bare localhost
// would open every service on the host's loopback; for private and
// link-local addresses, also an exact (non-wildcard) name rule for this very
// name: the user wrote "intranet.corp", so its private address is what they
// asked for. A wildcard, an approval or the default never opens one, and
// cloud metadata is opened only by a literal rule.
//
// Refusals are an HTTP 403 with X-Cordon-Decision: denied and a one-line
// body saying why in words ("cordon: the sandbox refused HOST:PORT: denied
// by FILE:LINE", "... denied by you at HH:MM"), or SOCKS reply 2. An
// allowed destination that does not resolve or answer is no refusal: HTTP
// 502 with X-Cordon-Decision: unreachable and the reason, SOCKS reply 4,
// decision "unreachable" (reported as no violation). Every decision is
// kept in order for the run's report and appended to the audit log.
//
// After the handshake a CONNECT or SOCKS tunnel copies between the raw
// *net.UnixConn and *net.TCPConn, so the kernel splices the data.
package proxy
