//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
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
// "Without user namespaces"; hostns.Weaker), not run in the Landlock pass,
// and listed with its reason at the end of it (exceptionLogVar), never
// silently. What the Landlock backend holds instead is tested in
// sandbox/hostns.
var landlockExceptions = map[string]string{
	"TestAttackHostProcesses": "host processes are visible in /proc (their environment, memory and signals are not: sandbox/hostns TestHostProcessesStayClosed)",
	"TestNoDirectNetwork":     "no network namespace: the command's sockets are the host's, each connect() made by the supervisor (sandbox/hostns TestNetworkOnlyThroughCordon)",
}

// exceptionLogVar names the file each exception taken is appended to.
const exceptionLogVar = "CORDON_EXCEPTION_LOG"

// backendException leaves t out of the Landlock pass when the table names
// it, and says so.
func backendException(t *testing.T) {
	t.Helper()
	if !landlockPass() {
		return
	}
	top, _, _ := strings.Cut(t.Name(), "/")
	why, ok := landlockExceptions[top]
	if !ok {
		return
	}
	if log := os.Getenv(exceptionLogVar); log != "" {
		if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", top, why)
			f.Close()
		}
	}
	t.Skip("Landlock backend exception: " + why)
}
