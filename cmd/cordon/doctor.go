package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/cordon-dev/cordon/sandbox/probe"
)

// cmdDoctor prints what this machine supports and how to fix what is
// missing; it exits 1 when a required piece is missing.
func cmdDoctor(ctx context.Context, args []string) int {
	flags := flag.NewFlagSet("doctor", flag.ContinueOnError)
	asJSON := flags.Bool("json", false, "print the checks as JSON")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	checks := probe.Run(ctx)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(checks)
	}
	code := 0
	for _, c := range checks {
		mark := "ok  "
		if !c.OK {
			mark = "--  "
			if c.Required {
				mark, code = "FAIL", 1
			}
		}
		if !*asJSON {
			fmt.Printf("%s %-16s %s\n", mark, c.Name, c.Detail)
			if !c.OK && c.Fix != "" {
				fmt.Printf("     %-16s fix: %s\n", "", c.Fix)
			}
		}
	}
	return code
}
