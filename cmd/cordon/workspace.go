package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cordon-dev/cordon/workspace"
)

// workspaceFlags are the -w and --policy flags shared by the subcommands
// that act on one workspace.
type workspaceFlags struct {
	dir    string
	policy string
}

func (f *workspaceFlags) register(fs *flag.FlagSet, withPolicy bool) {
	fs.StringVar(&f.dir, "w", "", "workspace root (default: nearest ancestor with .sandbox.toml, else .git, else the working directory)")
	if withPolicy {
		fs.StringVar(&f.policy, "policy", "", "policy file (default: ROOT/.sandbox.toml)")
	}
}

// options resolves the flags into load options.
func (f *workspaceFlags) options() (workspace.LoadOptions, error) {
	dirs, err := workspace.DefaultDirs()
	if err != nil {
		return workspace.LoadOptions{}, err
	}
	var root string
	if f.dir != "" {
		root, err = filepath.Abs(f.dir)
		if err == nil {
			root, err = filepath.EvalSymlinks(root)
		}
		if err != nil {
			return workspace.LoadOptions{}, fmt.Errorf("workspace %s: %w", f.dir, err)
		}
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return workspace.LoadOptions{}, fmt.Errorf("workspace %s: not a directory", f.dir)
		}
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return workspace.LoadOptions{}, err
		}
		if root, err = workspace.FindRoot(wd); err != nil {
			return workspace.LoadOptions{}, err
		}
	}
	opts := workspace.LoadOptions{Root: root, Dirs: dirs}
	if f.policy != "" {
		if opts.PolicyFile, err = filepath.Abs(f.policy); err != nil {
			return workspace.LoadOptions{}, err
		}
	}
	return opts, nil
}

// policyFile is the workspace policy file the options name.
func policyFile(opts workspace.LoadOptions) string {
	if opts.PolicyFile != "" {
		return opts.PolicyFile
	}
	return filepath.Join(opts.Root, ".sandbox.toml")
}
