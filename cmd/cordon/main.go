// Command cordon runs commands inside an OS sandbox whose limits the user
// set once per workspace in .sandbox.toml. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitSetup is DESIGN's status for "the sandbox could not be set up".
const exitSetup = 125

const usage = `usage:
  cordon run [-w DIR] [--policy FILE] [--json] -- COMMAND [ARG...]
  cordon run [-w DIR] [--policy FILE] [--json] -c 'SHELL STRING'
  cordon lsp                      JSON-RPC (LSP base protocol) over stdio
  cordon mcp [-w DIR]             Model Context Protocol server over stdio (tools run, status, explain)
  cordon shell [-lie] [-c 'CMD']  a POSIX-shell-compatible sandboxed shell (interactive on a pty without -c)
  cordon check [FILE]             validate a policy file
  cordon explain [-w DIR]         the effective policy, rule by rule
  cordon doctor                   what this machine supports
  cordon init [-w DIR]            write a commented starter .sandbox.toml
  cordon trust [-w DIR]           approve the workspace policy's widenings
  cordon cache clean [-w DIR]     drop the workspace's copy-on-write cache layers
  cordon version
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// Called as cordon-bash, cordon-sh, ... (a symlink): a shell.
	inner, asShell := shellAlias(os.Args[0])
	if len(args) == 0 && !asShell {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	// The in-sandbox stages are re-executions of this binary; they take
	// over before anything else (no logging set-up, no signal handlers).
	if len(args) > 0 {
		if code, ok := runHidden(args); ok {
			return code
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	logger := newLogger(os.Stderr)
	if asShell {
		return cmdShell(ctx, logger, args, inner)
	}

	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, logger, rest)
	case "lsp":
		return cmdLSP(ctx, logger, rest)
	case "mcp":
		return cmdMCP(ctx, logger, rest)
	case "shell":
		return cmdShell(ctx, logger, rest, "")
	case "check":
		return cmdCheck(rest)
	case "explain":
		return cmdExplain(rest)
	case "doctor":
		return cmdDoctor(ctx, rest)
	case "init":
		return cmdInit(rest)
	case "trust":
		return cmdTrust(rest)
	case "cache":
		return cmdCache(rest)
	case "connect":
		return runConnect(ctx, rest)
	case "git-ssh":
		return runGitSSH(ctx, rest)
	case "version", "--version", "-version":
		fmt.Println("cordon", version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "cordon: unknown command %q\n%s", cmd, usage)
		return 2
	}
}

// newLogger logs to stderr, never stdout (stdout belongs to the command or
// to the protocol). CORDON_LOG=debug turns on debug records.
func newLogger(w io.Writer) *slog.Logger {
	lv := new(slog.LevelVar)
	lv.Set(logLevel(slog.LevelWarn))
	return newLeveledLogger(w, lv)
}

// logLevel is CORDON_LOG's level ("debug", "info", "warn"), else def.
func logLevel(def slog.Level) slog.Level {
	switch os.Getenv("CORDON_LOG") {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn":
		return slog.LevelWarn
	}
	return def
}

func newLeveledLogger(w io.Writer, lv *slog.LevelVar) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}
