package sandbox

import (
	"testing"

	"github.com/cordon-dev/cordon/workspace"
)

func TestSpecCheck(t *testing.T) {
	pol := &workspace.Policy{}
	for _, tc := range []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"runnable", Spec{Policy: pol, Argv: []string{"true"}}, true},
		{"no policy", Spec{Argv: []string{"true"}}, false},
		{"no command", Spec{Policy: pol}, false},
		{"empty command", Spec{Policy: pol, Argv: []string{""}}, false},
		{"NUL in an argument", Spec{Policy: pol, Argv: []string{"echo", "a\x00b"}}, false},
	} {
		if err := tc.spec.Check(); (err == nil) != tc.ok {
			t.Errorf("%s: Check() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
