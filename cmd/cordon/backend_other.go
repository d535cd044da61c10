//go:build !linux && !darwin

package main

import (
	"context"
	"errors"
	"log/slog"
	"runtime"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/probe"
	"github.com/cordon-dev/cordon/workspace"
)

func newBackend(*slog.Logger) (sandbox.Backend, error) {
	return nil, errors.New("no sandbox backend for " + runtime.GOOS + " in this build")
}

func runHidden([]string) (int, bool) { return 0, false }

func cleanCaches(*workspace.Policy) (string, error) {
	return "", errors.New("no cache layers on " + runtime.GOOS)
}

// platformChecks are cordon doctor's findings where no backend is built.
func platformChecks(ctx context.Context) []probe.Check { return probe.Run(ctx) }
