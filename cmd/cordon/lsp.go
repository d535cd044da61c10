package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/cordon-dev/cordon/server"
)

// cmdLSP serves the editor protocol on stdin/stdout. Nothing else may
// write to stdout from here on: logs go to stderr.
func cmdLSP(ctx context.Context, logger *slog.Logger, args []string) int {
	backend, err := newBackend(logger)
	if err != nil {
		logger.Error("no sandbox backend", "err", err)
	}
	err = server.Serve(ctx, os.Stdin, os.Stdout, server.Options{
		Backend: backend,
		Logger:  logger,
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
