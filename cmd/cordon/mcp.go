package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sys/unix"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox/probe"
	"github.com/cordon-dev/cordon/server/control"
	"github.com/cordon-dev/cordon/server/mcp"
	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

// cmdMCP serves the Model Context Protocol on stdin/stdout for agents.
func cmdMCP(ctx context.Context, logger *slog.Logger, args []string) int {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	var wf workspaceFlags
	wf.register(fs, true)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "cordon mcp: no arguments expected")
		return 2
	}
	// As for lsp: stdout is the protocol's alone.
	protoOut, err := protocolStdout()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon mcp:", err)
		return 1
	}
	opts, err := wf.options()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon mcp:", err)
		return 1
	}
	backend, err := newBackend(logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon mcp:", err)
		return 1
	}
	audit, err := proxy.OpenAudit(filepath.Join(opts.Dirs.StateDir, "audit.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon mcp: audit log:", err)
		return 1
	}
	defer audit.Close()
	err = mcp.Serve(ctx, &sdk.IOTransport{Reader: os.Stdin, Writer: protoOut}, mcp.Options{
		Executor: &runner.Runner{Backend: backend, Audit: audit, Logger: logger},
		Load: func() (*workspace.Policy, error) {
			pol, err := workspace.Load(opts)
			if err != nil {
				return nil, policyLoadError(err)
			}
			return pol, nil
		},
		Backend:      backend.Name(),
		Capabilities: capabilities(backend, probe.Run(ctx)),
		Room:         roomFor(opts),
		Version:      version,
		Logger:       logger,
	})
	if err != nil {
		logger.Error("mcp", "err", err)
		return 1
	}
	return 0
}

// protocolStdout keeps a private, close-on-exec copy of stdout for a
// protocol and points descriptor 1 at stderr, so no stray write and no
// child can ever corrupt the stream.
func protocolStdout() (*os.File, error) {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, err
	}
	if err := unix.Dup2(2, 1); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "protocol-stdout"), nil
}

// roomFor opens runs in the editor session serving the workspace, if any.
func roomFor(opts workspace.LoadOptions) func(context.Context, control.Hello) (*control.Run, error) {
	return func(ctx context.Context, h control.Hello) (*control.Run, error) {
		return control.Open(ctx, opts.Dirs.RuntimeDir, opts.Root, h)
	}
}
