//go:build darwin

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/darwin"
	"github.com/cordon-dev/cordon/sandbox/probe"
	"github.com/cordon-dev/cordon/workspace"
)

func newBackend(logger *slog.Logger) (sandbox.Backend, error) {
	return darwin.New(darwin.Options{Logger: logger}), nil
}

func runHidden([]string) (int, bool) { return 0, false }

// platformChecks are cordon doctor's findings on macOS.
func platformChecks(ctx context.Context) []probe.Check { return darwin.Checks(ctx) }

// cleanCaches: seatbelt cannot overlay, so macOS has no cache layers; its
// per-workspace caches are ordinary directories (~/Library/Caches/cordon).
func cleanCaches(*workspace.Policy) (string, error) {
	return "", errors.New("no cache layers on macOS: the per-workspace caches are in ~/Library/Caches/cordon")
}
