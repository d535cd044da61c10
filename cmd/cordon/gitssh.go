package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	gitproxy "github.com/cordon-dev/cordon/proxy/git"
	"github.com/cordon-dev/cordon/sandbox/proxyenv"
)

// runGitSSH is `cordon git-ssh SSH-ARGS...`, git's ssh inside the sandbox
// (GIT_SSH_COMMAND). A remote listed in [git].remotes reaches it as the
// endpoint ssh://git.cordon.invalid/ID: cordon on the host runs ssh with
// the user's agent and checks pushes. Any other destination runs the
// sandbox's own ssh through `cordon connect`, as the network rules allow.
func runGitSSH(ctx context.Context, args []string) int {
	dest, command, err := gitproxy.SSHDestination(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon git-ssh:", err)
		return 255
	}
	if !gitproxy.IsEndpointDestination(dest) {
		return execSSH(args)
	}
	bridge := os.Getenv(proxyenv.BridgeVar)
	if bridge == "" {
		fmt.Fprintf(os.Stderr, "cordon git-ssh: %s is not set: it works only inside cordon run\n", proxyenv.BridgeVar)
		return 255
	}
	if err := gitproxy.RelaySSH(ctx, bridge, command, os.Getenv("GIT_PROTOCOL"), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 128
	}
	return 0
}

// execSSH replaces this process with ssh, its ProxyCommand cordon connect.
func execSSH(args []string) int {
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon git-ssh: ssh:", err)
		return 255
	}
	self, err := os.Executable()
	if err != nil || strings.ContainsFunc(self, func(r rune) bool {
		return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+", r)
	}) {
		self = "cordon"
	}
	argv := append([]string{"ssh", "-o", "ProxyCommand=" + self + " connect %h %p"}, args...)
	err = syscall.Exec(ssh, argv, os.Environ())
	fmt.Fprintln(os.Stderr, "cordon git-ssh: ssh:", err)
	return 255
}
