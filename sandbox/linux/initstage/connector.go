//go:build linux

package initstage

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// ConnectArg is the hidden subcommand of the connector: the small process
// the stage leaves in the sandbox's network namespace when the run
// publishes ports, `/proc/self/exe __connect` with its socket on 0.
const ConnectArg = "__connect"

// Connector requests: the family of the socket the host wants.
const (
	ConnectIPv4 byte = 4
	ConnectIPv6 byte = 6
)

// startConnector starts the connector and returns the host's end of its
// socket. A socket keeps the network namespace it was made in, so a TCP
// socket the connector makes, once handed over, lets the host connect to
// a port on the sandbox's loopback without ever entering the namespace
// (which an unprivileged host cannot) and without anything inside binding
// or listening on the host's behalf. The host does the connect() itself,
// to the port it chose, on a socket it checks first (see package linux).
//
// It starts before the Landlock layer and the write observer: it touches
// no file, and the observer must see only the command's processes (it
// waits for a host that has not had the hand-off yet).
func startConnector() (int, error) {
	// A stream pair: the sandbox's seccomp filter refuses the others.
	// Each request and answer is one byte, the socket riding on the
	// answer's, so no boundaries are needed.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("connector socket: %w", err)
	}
	defer unix.Close(pair[1])
	closed := ^uintptr(0)
	_, err = syscall.ForkExec("/proc/self/exe", []string{"cordon-connect", ConnectArg}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{uintptr(pair[1]), closed, closed},
	})
	if err != nil {
		unix.Close(pair[0])
		return -1, fmt.Errorf("connector: %w", err)
	}
	return pair[0], nil
}

// ConnectMain is the connector: for each request byte on descriptor 0 it
// makes an unconnected TCP socket of that family and sends it back; it
// ends when the host closes its end (the run's end kills it anyway).
func ConnectMain() int {
	req := make([]byte, 1)
	for {
		n, _, _, _, err := unix.Recvmsg(0, req, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0
		}
		family := unix.AF_INET
		if req[0] == ConnectIPv6 {
			family = unix.AF_INET6
		}
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
		if err != nil {
			// Answer without a descriptor: the host refuses that one
			// connection.
			if unix.Sendmsg(0, []byte{0}, nil, nil, 0) != nil {
				return 1
			}
			continue
		}
		err = unix.Sendmsg(0, req, unix.UnixRights(fd), nil, 0)
		unix.Close(fd)
		if err != nil {
			return 1
		}
	}
}
