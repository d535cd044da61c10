//go:build darwin

package main

import (
	"context"
	"log/slog"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/darwin"
	"github.com/cordon-dev/cordon/sandbox/probe"
)

func newBackend(logger *slog.Logger) (sandbox.Backend, error) {
	return darwin.New(darwin.Options{Logger: logger}), nil
}

func runHidden([]string) (int, bool) { return 0, false }

// platformChecks are cordon doctor's findings on macOS.
func platformChecks(ctx context.Context) []probe.Check { return darwin.Checks(ctx) }
