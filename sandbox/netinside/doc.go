// Package netinside is the sandbox's side of the network: the loopback
// relay to the run's proxy, the environment that points common clients at
// it, the mirrors of allowed host loopback ports, and the SOCKS5 client
// that `cordon connect` (ssh's ProxyCommand) uses.
//
// The sandbox has its own network namespace with only lo, so the relay is
// the only way out; the proxy on the host decides every connection.
package netinside
