package main

import (
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// testUser is the unprivileged account the attack tests also run as.
type testUser = sandboxtest.User

// asBoth runs f once as root (when the suite runs as root, as CI does)
// and once as an unprivileged user (the test user, or the suite's own).
func asBoth(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("root", func(t *testing.T) {
		sandboxtest.RequireRoot(t)
		f(t, newEnv(t))
	})
	t.Run("user", func(t *testing.T) {
		f(t, newEnvAs(t, sandboxtest.Unprivileged(t)))
	})
}
