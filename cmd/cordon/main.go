// Command cordon runs commands inside an OS sandbox with a per-workspace policy.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cordon: not yet wired")
	os.Exit(125)
}
