package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/server/control"
	"github.com/cordon-dev/cordon/server/shell"
)

// cmdShell is `cordon shell`: a POSIX-shell-compatible entry, so agents
// and terminals that let the user choose the shell run every command
// sandboxed. `-c CMD` runs CMD in the workspace holding the working
// directory, with CMD's exit status; with no command it is an interactive
// shell on a pty inside the sandbox. The shell inside is $CORDON_SHELL,
// else bash, else sh; the name cordon is called by can pick it too
// (cordon-bash, cordon-zsh, cordon-sh: a symlink to cordon).
func cmdShell(ctx context.Context, logger *slog.Logger, args []string, inner string) int {
	inv, err := shell.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cordon shell: %v\nusage: cordon shell [-lie...] [-o OPT] [-c 'COMMAND' [NAME [ARG...]] | SCRIPT [ARG...]]\n", err)
		return 2
	}
	if inner == "" {
		inner = innerShell()
	}
	opts, err := (&workspaceFlags{}).options()
	if err != nil {
		return setupFailed(err)
	}
	h := hostRun{
		origin:   control.OriginShell,
		opts:     opts,
		argv:     inv.Argv(inner),
		stdin:    os.Stdin,
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		approver: newTerminalApprover(),
	}
	if inv.HasCommand {
		h.label = inv.Command
	}
	if !inv.HasCommand && len(inv.Operands) == 0 && shell.IsTerminal(os.Stdin) && shell.IsTerminal(os.Stdout) {
		return interactive(ctx, logger, h)
	}
	return h.run(ctx, logger)
}

// interactive runs the shell on a pty of its own inside the sandbox,
// relayed to the caller's terminal.
func interactive(ctx context.Context, logger *slog.Logger, h hostRun) int {
	p, err := shell.OpenPTY()
	if err != nil {
		return setupFailed(err)
	}
	h.stdin, h.stdout, h.stderr, h.tty = p.Slave, p.Slave, p.Slave, true
	h.label = "interactive " + filepath.Base(h.argv[0])
	// The terminal belongs to the shell inside while it runs: cordon
	// cannot ask there. With no editor session, unknown hosts are denied
	// and reported when the shell ends.
	h.approver = proxy.ApproverFunc(func(context.Context, proxy.Question) (proxy.Answer, error) { return proxy.Deny, nil })
	var relay *shell.Relay
	h.beforeRun = func() error {
		relay, err = shell.StartRelay(p, os.Stdin, os.Stdout)
		return err
	}
	h.afterRun = func() {
		if relay != nil {
			relay.Stop()
		} else {
			p.Slave.Close()
			p.Master.Close()
		}
	}
	return h.run(ctx, logger)
}

// innerShell is the shell that runs inside the sandbox.
func innerShell() string {
	if s := os.Getenv("CORDON_SHELL"); filepath.IsAbs(s) {
		return s
	}
	for _, s := range []string{"/bin/bash", "/usr/bin/bash"} {
		if fi, err := os.Stat(s); err == nil && !fi.IsDir() {
			return s
		}
	}
	return "/bin/sh"
}

// shellAlias maps a name cordon may be called by (a symlink) to the shell
// it runs inside: cordon-bash → bash, cordon-sh → sh. Agents that accept
// only a shell whose name says bash or zsh can be given one.
func shellAlias(argv0 string) (inner string, ok bool) {
	name := filepath.Base(argv0)
	rest, found := strings.CutPrefix(name, "cordon-")
	if !found {
		return "", false
	}
	switch rest {
	case "shell":
		return "", true
	case "bash", "sh", "zsh", "dash", "ksh":
		for _, dir := range []string{"/bin", "/usr/bin"} {
			if p := filepath.Join(dir, rest); isFile(p) {
				return p, true
			}
		}
		return "/bin/" + rest, true
	}
	return "", false
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
