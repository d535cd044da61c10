//go:build darwin

package darwin

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cordon-dev/cordon/sandbox/probe"
)

// Checks is `cordon doctor` on macOS: the OS version, sandbox-exec (it
// must apply a profile and refuse what the profile denies), and whether
// the unified log can be read for violation reports.
func Checks(ctx context.Context) []probe.Check {
	return []probe.Check{osVersion(), sandboxExec(ctx), unifiedLog(ctx), limits()}
}

func osVersion() probe.Check {
	v, err := syscall.Sysctl("kern.osproductversion")
	if err != nil {
		return probe.Check{Name: "macOS", Detail: err.Error()}
	}
	return probe.Check{Name: "macOS", OK: true, Detail: "macOS " + v}
}

func sandboxExec(ctx context.Context) probe.Check {
	c := probe.Check{Name: "sandbox-exec", Required: true,
		Fix: SandboxExec + " ships with macOS; without it no command can be sandboxed"}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// A profile that allows everything but one file: the command must
	// run, and the read must be refused (a positive control that the
	// profile is enforced, not just accepted).
	profile := `(version 1)(allow default)(deny file-read-data (literal "/private/etc/hosts"))`
	cmd := exec.CommandContext(ctx, SandboxExec, "-p", profile, "/bin/cat", "/etc/hosts")
	cmd.Env = hostEnv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); !ok || !strings.Contains(stderr.String(), "not permitted") {
		c.Detail = "a profile denying /etc/hosts did not refuse cat /etc/hosts: " + strings.TrimSpace(stderr.String())
		if err != nil {
			c.Detail += " (" + err.Error() + ")"
		}
		return c
	}
	c.OK, c.Detail, c.Fix = true, SandboxExec+" applies and enforces profiles", ""
	return c
}

func unifiedLog(ctx context.Context) probe.Check {
	c := probe.Check{Name: "unified log",
		Fix: "run cordon from an administrator account: `log stream` needs one, and without it blocked accesses are not reported (they are still blocked)"}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, LogCommand, LogArgs("cordon-doctor-probe")...)
	cmd.Env = hostEnv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if bufio.NewScanner(out).Scan() {
		c.OK, c.Detail, c.Fix = true, "log stream reads the sandbox's deny reports", ""
		return c
	}
	cmd.Wait()
	c.Detail = "log stream: " + strings.TrimSpace(stderr.String())
	return c
}

func limits() probe.Check {
	return probe.Check{Name: "limits", Detail: "limits.memory and limits.processes cannot be enforced here: a policy setting them is refused",
		Fix: "leave them out of the policy for this Mac, or run on Linux"}
}
