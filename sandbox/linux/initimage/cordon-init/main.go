//go:build linux

// Command cordon-init is the in-sandbox init stage on its own, for cordon
// to embed (see package initimage). It is not meant to be run by hand.
package main

import (
	"fmt"
	"os"

	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == initstage.LayersArg {
		os.Exit(initstage.LayersMain(os.Args[2:]))
	}
	if len(os.Args) == 2 && os.Args[1] == initstage.ConnectArg {
		os.Exit(initstage.ConnectMain())
	}
	if len(os.Args) < 2 || os.Args[1] != initstage.Arg {
		fmt.Fprintln(os.Stderr, "cordon-init: the sandbox init stage of cordon; it runs only inside cordon run")
		os.Exit(125)
	}
	os.Exit(initstage.Main(os.Args[2:]))
}
