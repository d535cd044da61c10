package main

import (
	"os"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// testUser is the unprivileged account the attack tests also run as.
type testUser = sandboxtest.User

// asBoth runs f once as the current user (root in CI) and once as the
// unprivileged test user.
func asBoth(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("root", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("not started as root")
		}
		f(t, newEnv(t))
	})
	t.Run("user", func(t *testing.T) {
		f(t, newEnvAs(t, sandboxtest.Unprivileged(t)))
	})
}
