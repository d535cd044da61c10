//go:build linux

package main

import (
	"context"
	"log/slog"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/linux"
	"github.com/cordon-dev/cordon/sandbox/linux/initimage"
	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/probe"
	"github.com/cordon-dev/cordon/workspace"
)

func newBackend(logger *slog.Logger) (sandbox.Backend, error) {
	return linux.New(linux.Options{Logger: logger, InitImage: initimage.Image()}), nil
}

// cleanCaches drops the workspace's copy-on-write cache layers.
func cleanCaches(p *workspace.Policy) (string, error) { return linux.CleanCaches(p) }

// runHidden runs the stages cordon re-executes itself for inside the
// sandbox. ok is false when args name none of them.
func runHidden(args []string) (code int, ok bool) {
	switch args[0] {
	case initstage.Arg:
		return initstage.Main(args[1:]), true
	case initstage.ConnectArg:
		return initstage.ConnectMain(), true
	case linux.LayersArg:
		return linux.LayersMain(args[1:]), true
	}
	return 0, false
}

// platformChecks are cordon doctor's findings on Linux.
func platformChecks(ctx context.Context) []probe.Check {
	return append(probe.Run(ctx), initStageCheck())
}
