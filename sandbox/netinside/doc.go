// Package netinside is the sandbox's side of the network.
//
//   - Join: the two-way copy with half-close that the bwrap backend's
//     bridge relays each sandbox connection with (host-side, from
//     listeners the init hands over, so the command never needs AF_UNIX);
//   - Connect and SOCKSConnect: `cordon connect HOST PORT` for ssh's
//     ProxyCommand;
//   - Pool, InstallConnectFilter and Supervisor: programs that ignore proxy
//     variables get DNS answers from a private pool, and their connect()s to
//     pool addresses are steered through the proxy by name (seccomp user
//     notification), on every port.
//
// The sandbox has its own network namespace with only lo, so these are
// the only ways out; the proxy on the host decides every connection.
package netinside
