// Command genkeys writes what is generated from workspace.Tables: the JSON
// Schema of .sandbox.toml and the README's key reference (go generate
// ./workspace). workspace's tests fail when they are out of date.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cordon-dev/cordon/workspace"
)

func main() {
	schema := flag.String("schema", "", "the JSON Schema file to write")
	readme := flag.String("readme", "", "the README whose key reference to replace")
	flag.Parse()
	if err := run(*schema, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "genkeys:", err)
		os.Exit(1)
	}
}

func run(schema, readme string) error {
	if schema != "" {
		b, err := workspace.JSONSchema()
		if err != nil {
			return err
		}
		if err := os.WriteFile(schema, b, 0o644); err != nil {
			return err
		}
	}
	if readme != "" {
		b, err := os.ReadFile(readme)
		if err != nil {
			return err
		}
		out, err := workspace.SpliceReference(string(b))
		if err != nil {
			return err
		}
		if err := os.WriteFile(readme, []byte(out), 0o644); err != nil {
			return err
		}
	}
	return nil
}
