package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/linux/initimage"
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
	checks := platformChecks(ctx)
	checks = append(checks, layersCheck(ctx, checks))
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

// initStageCheck says how this build starts its sandboxes: through the
// small embedded init image, or by re-executing all of cordon.
func initStageCheck() probe.Check {
	if n := len(initimage.Image()); n > 0 {
		return probe.Check{Name: "init stage", OK: true, Detail: fmt.Sprintf("embedded image, %.1f MB", float64(n)/(1<<20))}
	}
	return probe.Check{Name: "init stage", Detail: "cordon re-executes itself in every sandbox, a few ms slower per command",
		Fix: "build with make build, which embeds the init image"}
}

// layersCheck names the layers every run has in force here, the line
// that says what the other checks add up to.
func layersCheck(ctx context.Context, checks []probe.Check) probe.Check {
	c := probe.Check{Name: "in force"}
	for _, ch := range checks {
		if ch.Required && !ch.OK {
			c.Detail = "nothing: a required piece is missing (above); every run is refused"
			return c
		}
	}
	b, err := newBackend(slog.New(slog.DiscardHandler))
	if err == nil {
		err = b.Check(ctx)
	}
	if err != nil {
		c.Detail = "nothing: " + err.Error()
		return c
	}
	c.OK, c.Detail = true, sandbox.Layers(b)
	return c
}

// capabilities is sandbox/status's capabilities: what the machine offers,
// and under "layers" what every run has in force.
func capabilities(b sandbox.Backend, checks []probe.Check) map[string]string {
	m := probe.Capabilities(checks)
	m["layers"] = sandbox.Layers(b)
	if w, ok := b.(interface{ Weaker() []string }); ok {
		m["weaker"] = strings.Join(w.Weaker(), "; ")
	}
	return m
}
