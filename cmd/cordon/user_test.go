package main

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"testing"
)

// testUser is the unprivileged account the attack tests also run as.
type testUser struct {
	uid, gid int
}

const testUserName = "cordontest"

var (
	userOnce sync.Once
	userVal  *testUser
	userErr  error
)

// unprivileged returns the test user, creating it when the tests run as
// root (as CI does). Run as another user, the tests already are
// unprivileged and the root variant is the one that cannot run.
func unprivileged(t *testing.T) *testUser {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("not root: these runs are already unprivileged (CI runs the tests as root and covers both)")
	}
	userOnce.Do(func() {
		if _, err := user.Lookup(testUserName); err != nil {
			out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", testUserName).CombinedOutput()
			if err != nil {
				userErr = err
				_ = out
				return
			}
		}
		u, err := user.Lookup(testUserName)
		if err != nil {
			userErr = err
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		userVal = &testUser{uid: uid, gid: gid}
	})
	if userErr != nil {
		t.Fatalf("creating the unprivileged test user: %v", userErr)
	}
	return userVal
}

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
		f(t, newEnvAs(t, unprivileged(t)))
	})
}
