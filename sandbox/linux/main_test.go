//go:build linux

package linux

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/workspace"
)

// The test binary doubles as cordon's init and layers stages, the way the
// cordon binary re-executes itself inside bwrap, and as a launcher (a
// stand-in for `cordon run`) that tests can SIGKILL.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case initstage.Arg:
			os.Exit(initstage.Main(os.Args[2:]))
		case initstage.ConnectArg:
			os.Exit(initstage.ConnectMain())
		case LayersArg:
			os.Exit(LayersMain(os.Args[2:]))
		case launchArg:
			os.Exit(launchMain(os.Args[2:]))
		case standaloneArg:
			os.Exit(standaloneMain(os.Args[2:]))
		case standaloneChildArg:
			os.Exit(standaloneChildMain(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

const launchArg = "__launch"

// proxySocketVar gives the launcher a proxy socket for the run's network.
const proxySocketVar = "CORDON_TEST_PROXY_SOCKET"

// layersVar turns layers off in the launcher's backend (testSwitches):
// "nomounts", "nolandlock", comma-separated.
const layersVar = "CORDON_TEST_LAYERS_OFF"

func testSwitchesFrom(s string) testSwitches {
	var t testSwitches
	for _, f := range strings.Split(s, ",") {
		switch f {
		case "nomounts":
			t.noMounts = true
		case "nolandlock":
			t.noLandlock = true
		}
	}
	return t
}

// launchMain runs `ROOT HOME -- ARGV...` in the workspace ROOT through the
// backend, with this binary as the init, and exits with the command's code.
func launchMain(args []string) int {
	if len(args) < 4 || args[2] != "--" {
		fmt.Fprintln(os.Stderr, "launch: usage: ROOT HOME -- ARGV...")
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
	spec := sandbox.Spec{Policy: p, Argv: args[3:], Env: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr}
	if sock := os.Getenv(proxySocketVar); sock != "" {
		spec.Network = &sandbox.Network{ProxySocket: sock}
	}
	b := New(Options{})
	b.test = testSwitchesFrom(os.Getenv(layersVar))
	proc, err := b.Start(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 125
	}
	// Forward what a terminal or an editor would send, as cordon run does.
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
	return res.ExitCode
}
