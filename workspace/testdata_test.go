package workspace

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/policies/invalid/*.want from the parser's output")

var sampleDirs = Dirs{Home: "/home/u", ConfigDir: "/home/u/.config/cordon", StateDir: "/home/u/.local/state/cordon"}

// The sample policies in testdata/policies: every valid one parses, every
// invalid one gives exactly the diagnostics in its .want file.
func TestSamplePolicies(t *testing.T) {
	valid, _ := filepath.Glob("../testdata/policies/valid/*.toml")
	invalid, _ := filepath.Glob("../testdata/policies/invalid/*.toml")
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatal("no sample policies found")
	}
	for _, file := range valid {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse("/ws/.sandbox.toml", data, sampleDirs, "/ws"); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, file := range invalid {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse("/ws/.sandbox.toml", data, sampleDirs, "/ws")
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, want a *PolicyError", err)
			}
			var b strings.Builder
			for _, d := range pe.Diagnostics {
				fmt.Fprintf(&b, "%d:%d: %s\n", d.Line, d.Col, d.Message)
			}
			want := strings.TrimSuffix(file, ".toml") + ".want"
			if *update {
				os.WriteFile(want, []byte(b.String()), 0o644)
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(w) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", b.String(), w)
			}
		})
	}
}

func TestDottedKeysSample(t *testing.T) {
	data, err := os.ReadFile("../testdata/policies/valid/dotted-keys.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("/ws/.sandbox.toml", data, sampleDirs, "/ws")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Network.Allow) != 2 || f.Network.Allow[1].Host != "[::1]" || f.Network.Allow[1].Source.Line != 3 || f.Network.Allow[1].Source.Col != 46 {
		t.Errorf("allow = %+v", f.Network.Allow)
	}
	if len(f.Env.Set) != 1 || f.Env.Set[0].Value != "-mod=mod" || f.Env.Set[0].Source.Line != 4 {
		t.Errorf("env.set = %+v", f.Env.Set)
	}
	if f.Limits.Timeout.Hours() != 1 || f.LimitSources["timeout"].Line != 5 || f.Network.Unknown != UnknownDeny {
		t.Errorf("limits %+v unknown %v", f.Limits, f.Network.Unknown)
	}
}
