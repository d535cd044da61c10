//go:build linux

package linux

import (
	"fmt"
	"path/filepath"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
)

// Standalone is the filesystem policy of a run without mounts (the
// backend of package hostns): what Landlock enforces, and the
// supervisor's view of the same plan.
type Standalone struct {
	Rules landlock.Rules
	Judge *supervisor.Judge
}

// PlanStandalone resolves p for a run without mounts whose temp dir is
// the host directory tempDir. An error is a rule that cannot be enforced
// without mounts: the run must be refused with it.
//
// Landlock grants by hierarchy and cannot take a name out of a writable
// directory, so a read-only path inside a writable place (deny_write that
// exists, a protected name that exists) is refused here; names that do
// not exist yet are left to the guard, which makes every new name itself.
func PlanStandalone(p *workspace.Policy, tempDir string) (*Standalone, error) {
	sc := scanner{}
	if p.StateDir != "" {
		sc.cacheDir = filepath.Join(p.StateDir, "scan")
	}
	pl, err := buildPlan(p, tempDir, sc)
	if err != nil {
		return nil, err
	}
	if len(pl.ReadOnly) > 0 {
		return nil, fmt.Errorf("without mounts, %s (read-only inside a writable place) cannot be protected yet", pl.ReadOnly[0])
	}
	for _, m := range pl.Missing {
		pl.Guarded = append(pl.Guarded, workspace.PathRule{Path: filepath.Clean(m), Source: pl.missingRule[m]})
	}
	pl.Missing = nil
	rules := pl.landlockRules(p)
	return &Standalone{Rules: rules, Judge: pl.judge(p)}, nil
}
