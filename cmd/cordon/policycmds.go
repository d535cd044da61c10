package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cordon-dev/cordon/workspace"
)

// cmdCheck validates one policy file: FILE:LINE:COL: message per problem,
// exit 1 when it is invalid. Warnings are printed but do not fail.
func cmdCheck(args []string) int {
	opts, flags, code := parseWorkspaceCommand("check", args, false)
	if code != 0 {
		return code
	}
	var err error
	file := policyFile(opts)
	if flags.NArg() > 0 {
		if file, err = filepath.Abs(flags.Arg(0)); err != nil {
			fmt.Fprintln(os.Stderr, "cordon:", err)
			return 1
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cordon: %v\n", err)
		return 1
	}
	f, err := workspace.Parse(file, data, opts.Dirs, opts.Root)
	if err != nil {
		var pe *workspace.PolicyError
		if errors.As(err, &pe) {
			for _, d := range pe.Diagnostics {
				fmt.Println(d.Error())
			}
		} else {
			fmt.Printf("%s:1:1: %v\n", file, err)
		}
		return 1
	}
	for _, w := range f.Warnings() {
		fmt.Printf("%s:%d:%d: warning: %s\n", w.File, w.Line, w.Col, w.Message)
	}
	fmt.Fprintf(os.Stderr, "%s: ok\n", file)
	return 0
}

func cmdExplain(args []string) int {
	opts, _, code := parseWorkspaceCommand("explain", args, true)
	if code != 0 {
		return code
	}
	pol, err := workspace.Load(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon:", err)
		return 1
	}
	fmt.Print(workspace.Explain(pol))
	return 0
}

// cmdInit writes the starter policy; it never overwrites a file.
func cmdInit(args []string) int {
	opts, _, code := parseWorkspaceCommand("init", args, false)
	if code != 0 {
		return code
	}
	file := policyFile(opts)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		fmt.Fprintf(os.Stderr, "cordon: %s exists; not overwritten\n", file)
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon:", err)
		return 1
	}
	_, werr := f.Write(workspace.StarterFor(filepath.Dir(file)))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		fmt.Fprintln(os.Stderr, "cordon:", werr)
		return 1
	}
	fmt.Println("wrote", file)
	return 0
}

// cmdTrust shows what the workspace file widens and approves its current
// content: running it is the consent.
func cmdTrust(args []string) int {
	opts, _, code := parseWorkspaceCommand("trust", args, true)
	if code != 0 {
		return code
	}
	pol, err := workspace.Load(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon:", err)
		return 1
	}
	if pol.Hash == "" {
		fmt.Printf("%s does not exist: nothing to trust\n", pol.File)
		return 0
	}
	if pol.Trusted && len(pol.Untrusted) == 0 {
		fmt.Printf("%s is trusted (sha256 %s)\n", pol.File, pol.Hash)
		return 0
	}
	fmt.Printf("%s widens your defaults:\n", pol.File)
	for _, w := range pol.Untrusted {
		fmt.Printf("  %s\n", w)
	}
	if err := (workspace.TrustStore{Dir: opts.Dirs.StateDir}).Trust(pol.File, pol.Hash); err != nil {
		fmt.Fprintln(os.Stderr, "cordon:", err)
		return 1
	}
	fmt.Printf("trusted this content (sha256 %s); any change needs trust again\n", pol.Hash)
	return 0
}

// parseWorkspaceCommand parses a subcommand's -w (and --policy) flags
// and resolves the workspace. A non-zero code means: return it.
func parseWorkspaceCommand(name string, args []string, withPolicy bool) (workspace.LoadOptions, *flag.FlagSet, int) {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	var wf workspaceFlags
	wf.register(flags, withPolicy)
	if err := flags.Parse(args); err != nil {
		return workspace.LoadOptions{}, nil, 2
	}
	if name == "init" && wf.dir == "" {
		wf.dir = "."
	}
	opts, err := wf.options()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon:", err)
		return workspace.LoadOptions{}, nil, 1
	}
	return opts, flags, 0
}

// cmdCache: `cordon cache clean [-w DIR]` drops the workspace's
// copy-on-write cache layers; the next run starts from the host's caches.
func cmdCache(args []string) int {
	if len(args) == 0 || args[0] != "clean" {
		fmt.Fprintln(os.Stderr, "usage: cordon cache clean [-w DIR]")
		return 2
	}
	opts, _, code := parseWorkspaceCommand("cache clean", args[1:], false)
	if code != 0 {
		return code
	}
	pol, err := workspace.Load(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon:", err)
		return 1
	}
	dir, err := cleanCaches(pol)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon: cleaning the cache layers:", err)
		return 1
	}
	fmt.Println("removed the cache layers of", pol.Root, "("+dir+")")
	return 0
}
