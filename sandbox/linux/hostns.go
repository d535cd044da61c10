//go:build linux

package linux

import (
	"log/slog"
	"path/filepath"

	"github.com/cordon-dev/cordon/workspace"
)

// What the backend without namespaces (package hostns) shares with this
// one: the command's environment and cordon's scratch directories.

// CommandEnv is the environment the command starts with (see commandEnv).
func CommandEnv(base []string, p *workspace.Policy, tempDir string) []string {
	return commandEnv(base, p, tempDir)
}

// RuntimeDir is cordon's private per-user scratch directory on the host.
func RuntimeDir() (string, error) { return runtimeDir() }

// PrivateTempDir is the workspace's private temp dir in cordon's state
// directory (hidden from every sandbox but the run's own), kept across its
// runs; old ones of other workspaces are swept.
func PrivateTempDir(p *workspace.Policy, logger *slog.Logger) string {
	dir := filepath.Join(p.StateDir, "tmp", shortHash(p.Root))
	sweepTemps(filepath.Dir(dir), dir, logger)
	return dir
}
