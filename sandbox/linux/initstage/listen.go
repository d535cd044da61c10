//go:build linux

package initstage

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// openBridge listens on the sandbox's own loopback and returns the
// listeners for the host, which relays every connection to the run's
// proxy: nothing inside ever needs a unix socket of its own. Raw sockets,
// not package net: the stage stays small (see the package comment).
func openBridge(cfg Config) (msg Handoff, fds []int, err error) {
	defer func() {
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			fds = nil
		}
	}()
	fd, port, err := listenLoopback(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return msg, fds, fmt.Errorf("bridge listener: %w", err)
	}
	fds, msg.Proxy = append(fds, fd), port
	for _, port := range cfg.Mirror {
		for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
			fd, _, err := listenLoopback(family, unix.SOCK_STREAM, port)
			if err != nil {
				if family == unix.AF_INET6 {
					continue // no IPv6 loopback in this namespace
				}
				return msg, fds, fmt.Errorf("mirror of localhost:%d: %w", port, err)
			}
			fds, msg.Mirror = append(fds, fd), append(msg.Mirror, port)
		}
	}
	if cfg.Publish {
		fd, err := startConnector()
		if err != nil {
			return msg, fds, err
		}
		fds, msg.Connector = append(fds, fd), true
	}
	if cfg.Observe {
		// The connect() capture (netinside): a listener and a DNS socket
		// on this namespace's loopback, served by the host.
		fd, _, err := listenLoopback(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return msg, fds, fmt.Errorf("capture listener: %w", err)
		}
		fds = append(fds, fd)
		fd, _, err = listenLoopback(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			return msg, fds, fmt.Errorf("dns socket: %w", err)
		}
		fds, msg.Capture = append(fds, fd), true
	}
	return msg, fds, nil
}

// listenLoopback binds a socket of the given family and type to the
// loopback address and port (0: any), listening when it is a stream
// socket, and returns it with the port it got.
func listenLoopback(family, typ, port int) (fd, bound int, err error) {
	fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET6 {
		sa = &unix.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
	} else {
		sa = &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	}
	if typ == unix.SOCK_STREAM {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err == nil && family == unix.AF_INET6 {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		}
	}
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	if err == nil && typ == unix.SOCK_STREAM {
		err = unix.Listen(fd, unix.SOMAXCONN)
	}
	if err == nil {
		bound, err = boundPort(fd)
	}
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, bound, nil
}

func boundPort(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port, nil
	case *unix.SockaddrInet6:
		return a.Port, nil
	}
	return 0, errors.New("not an internet socket")
}
