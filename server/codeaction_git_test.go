package server

import (
	"testing"

	"github.com/cordon-dev/cordon/sandbox"
)

// A push the git proxy refused offers the one rule that would have let it
// through: the branch (or full ref) in [git].push, never a host rule.
func TestQuickFixForRefusedPush(t *testing.T) {
	f := &folder{root: "/ws"}
	for target, want := range map[string]string{
		"push https://github.com/acme/app.git refs/heads/main": "main",
		"push git@github.com:acme/app.git refs/tags/v1":        "refs/tags/v1",
	} {
		fixes := fixesFor(f, violationData{Kind: sandbox.KindNet, Target: target})
		if len(fixes) != 1 || fixes[0].table != "git" || fixes[0].key != "push" || fixes[0].value != want {
			t.Errorf("%s: fixes %+v, want push = [%q]", target, fixes, want)
		}
	}
	// A refused fetch of an unlisted endpoint has no rule to add here.
	if fixes := fixesFor(f, violationData{Kind: sandbox.KindNet, Target: "refs http://git.cordon.invalid/0123"}); len(fixes) != 0 {
		t.Errorf("fixes for an unlisted endpoint: %+v", fixes)
	}
}
