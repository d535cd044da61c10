package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/probe"
	"github.com/cordon-dev/cordon/server"
	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

// cmdLSP serves the editor protocol on stdin/stdout.
func cmdLSP(ctx context.Context, _ *slog.Logger, args []string) int {
	// The editor's log channel shows what the server does: info by
	// default; the client's trace setting (verbose) turns on debug.
	level := new(slog.LevelVar)
	level.Set(logLevel(slog.LevelInfo))
	logger := newLeveledLogger(os.Stderr, level)
	// stdout belongs to the protocol from here on.
	protoOut, err := protocolStdout()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cordon lsp:", err)
		return 1
	}

	dirs, err := workspace.DefaultDirs()
	if err != nil {
		logger.Error("lsp", "err", err)
		return 1
	}
	backend, err := newBackend(logger)
	if err != nil {
		logger.Error("no sandbox backend", "err", err)
		return 1
	}
	audit, err := proxy.OpenAudit(filepath.Join(dirs.StateDir, "audit.log"))
	if err != nil {
		logger.Error("lsp", "err", err)
		return 1
	}
	defer audit.Close()
	checks := probe.Run(ctx)
	err = server.Serve(ctx, os.Stdin, protoOut, server.Options{
		Executor:     &runner.Runner{Backend: backend, Audit: audit, Logger: logger},
		Backend:      backend.Name(),
		Layers:       sandbox.Layers(backend),
		Capabilities: capabilities(backend, checks),
		Dirs:         dirs,
		Logger:       logger,
		LogLevel:     level,
	})
	var exit *server.ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	if err != nil {
		logger.Error("lsp", "err", err)
		return 1
	}
	return 0
}
