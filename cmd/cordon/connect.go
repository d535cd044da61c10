package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/cordon-dev/cordon/sandbox/netinside"
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
	if err := netinside.Connect(ctx, "", args[0], port, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cordon connect:", err)
		return 1
	}
	return 0
}
