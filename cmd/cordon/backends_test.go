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
	// Landlock grants reads by hierarchy: a deny_read path inside a
	// writable place cannot be kept unreadable without making every name
	// made later on the way to it unreadable, so such a policy is refused
	// (status 125, the rule named: sandbox/linux TestStandalone*). These
	// tests are about exactly such policies.
	"TestAttackDenyRead":            denyReadInWritable,
	"TestAttackPolicyFile/defaults": denyReadInWritable + " (cordon's config dir inside the workspace)",
	"TestAttackCordonDirs":          denyReadInWritable + " (cordon's config and state dirs inside the workspace)",
	"TestAttackHomeAncestors":       denyReadInWritable + " (the credential set in a writable home)",
	"TestAttackWorkspaceAncestors":  denyReadInWritable,
	"TestAttackDenyReadNotYetThere": denyReadInWritable + " (once the file exists)",
	"TestAttackForgedScanStamp":     denyReadInWritable + " (once the key exists)",
	"TestPatternsAtAnyDepth":        denyReadInWritable,
	// Without mounts a rule is judged at real paths only, so one named
	// through a symbolic link (w/k with w -> wreal) refuses the run with
	// the real path to write (sandbox/linux TestStandaloneLinkedRule);
	// this test's policy names such a rule on purpose.
	"TestAttackSymlinkedParent": "a deny_write rule named through a symbolic link refuses the run (status 125, the real path named)",
	// The guard refuses making a missing protected directory, so a file
	// below it fails with ENOENT, which reports nothing (bwrap: a
	// read-only placeholder, EROFS, reported).
	"TestAttackCreateProtectedPaths": "a file inside a protected directory that was never made is not reported (ENOENT)",
	// /proc is the host's, read-only (no PID namespace of its own); a file
	// the supervisor made in a guard directory is not reopened for
	// writing through /dev/fd (Landlock judges the reopen by its path).
	"TestAttackDenyWriteNewNames": "/proc/self is read-only and /dev/fd reopens of a supervisor-made file are refused",
}

const denyReadInWritable = "a deny_read path that exists inside a writable place refuses the run"

// writeRefused is how a write outside the writable places fails: EROFS
// under bwrap's read-only mounts, EACCES (Landlock) without them.
func writeRefused(stderr string) bool {
	return strings.Contains(stderr, "Read-only file system") || (landlockPass() && strings.Contains(stderr, "Permission denied"))
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
	// The test or any test it is a subtest of.
	var why string
	ok := false
	for name := t.Name(); !ok && name != ""; {
		why, ok = landlockExceptions[name]
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			break
		}
		name = name[:i]
	}
	if !ok {
		return
	}
	if log := os.Getenv(exceptionLogVar); log != "" {
		if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), why)
			f.Close()
		}
	}
	t.Skip("Landlock backend exception: " + why)
}
