//go:build linux

package hostns

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/workspace"
)

// The test binary doubles as cordon's keeper and init stage, the way the
// cordon binary re-executes itself, and as a launcher (a stand-in for
// `cordon run`) that tests start as root or as the unprivileged user.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case initstage.KeeperArg:
			os.Exit(initstage.KeeperMain(os.Args[2:]))
		case initstage.Arg:
			os.Exit(initstage.Main(os.Args[2:]))
		case launchArg:
			os.Exit(launchMain(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

const launchArg = "__launch"

// launchMain runs `ROOT HOME PROXYSOCKET -- ARGV...` (PROXYSOCKET "-":
// no network) through the backend and exits with the command's status.
func launchMain(args []string) int {
	if len(args) < 5 || args[3] != "--" {
		fmt.Fprintln(os.Stderr, "launch: usage: ROOT HOME PROXYSOCKET -- ARGV...")
		return 2
	}
	root, home := args[0], args[1]
	p, err := workspace.Load(workspace.LoadOptions{Root: root, Dirs: workspace.Dirs{
		Home: home, ConfigDir: filepath.Join(home, ".config/cordon"), StateDir: filepath.Join(home, ".local/state/cordon"),
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 125
	}
	spec := sandbox.Spec{Policy: p, Argv: args[4:], Env: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr}
	if args[2] != "-" {
		spec.Network = &sandbox.Network{ProxySocket: args[2]}
	}
	proc, err := New(Options{}).Start(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 125
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for sig := range sigs {
			_ = proc.Signal(sig)
		}
	}()
	res, err := proc.Wait()
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 125
	}
	for _, v := range res.Violations {
		fmt.Fprintln(os.Stderr, v.String())
	}
	return res.ExitCode
}
