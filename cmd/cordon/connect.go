package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/cordon-dev/cordon/sandbox/linux"
)

// runConnect is `cordon connect HOST PORT`, used inside the sandbox as
// ssh's ProxyCommand: it asks the run's proxy for HOST:PORT and pipes
// stdin and stdout through, so git over SSH works where the host is allowed.
func runConnect(ctx context.Context, args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cordon connect HOST PORT")
		return 2
	}
	port, err := strconv.Atoi(args[1])
	if err != nil || port < 1 || port > 65535 {
		fmt.Fprintf(os.Stderr, "cordon connect: bad port %q\n", args[1])
		return 2
	}
	bridge := os.Getenv("CORDON_PROXY")
	if bridge == "" {
		fmt.Fprintln(os.Stderr, "cordon connect: CORDON_PROXY is not set (it only works inside cordon run)")
		return 1
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", bridge)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon connect:", err)
		return 1
	}
	defer c.Close()
	if err := linux.SOCKSConnect(c, args[0], port); err != nil {
		fmt.Fprintf(os.Stderr, "cordon connect: %s:%d: %v\n", args[0], port, err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, os.Stdin)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(os.Stdout, c)
	return 0
}
