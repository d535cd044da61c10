//go:build linux

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// The attack tests run against both Linux backends. As they are, cordon
// picks bwrap (user namespaces work here). With CORDON_TEST_NOUSERNS=1
// (make test's second pass), every cordon a test starts runs inside a
// user namespace whose max_user_namespaces is 0: bwrap cannot make its
// namespaces there, as in Docker or on Ubuntu's restricted AppArmor, and
// cordon chooses the Landlock + seccomp backend by itself.
const noUsernsVar = "CORDON_TEST_NOUSERNS"

func landlockPass() bool { return os.Getenv(noUsernsVar) == "1" }

// noUsernsWrap runs a command the way a machine without user namespaces
// would (status 99: the simulation itself failed).
var noUsernsWrap = []string{"unshare", "-U", "-r", "sh", "-c", `echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"`, "sh"}

// landlockExceptions are the tests that do not hold, or hold otherwise,
// under the Landlock backend: each is a documented difference (README,
// "Without user namespaces"; hostns.Weaker), skipped in the Landlock pass
// with its reason (and counted by testdata/scripts/skips.sh), never
// silently.
var landlockExceptions = map[string]string{}

// backendException skips t in the Landlock pass when the table names it.
func backendException(t *testing.T) {
	t.Helper()
	if !landlockPass() {
		return
	}
	top, _, _ := strings.Cut(t.Name(), "/")
	if why, ok := landlockExceptions[top]; ok {
		sandboxtest.Skip(t, "Landlock backend exception: "+why)
	}
}
