// Package probe reports what this machine offers the sandbox: the
// bubblewrap binary, user namespaces, seccomp, Landlock, cgroups. `cordon
// doctor` prints it and the editor server reports it in sandbox/status.
package probe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
)

// Check is one finding.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Required checks make the backend unusable when they fail.
	Required bool   `json:"required"`
	Fix      string `json:"fix,omitempty"`
}

// Run probes the machine. Each probe is cheap; the slowest runs bwrap once.
func Run(ctx context.Context) []Check {
	if runtime.GOOS != "linux" {
		return []Check{{Name: "platform", Detail: runtime.GOOS + ": only the Linux backend is built", Required: true,
			Fix: "run cordon on Linux, or on Windows inside WSL2"}}
	}
	checks := []Check{kernel()}
	bw := bwrap(ctx)
	checks = append(checks, bw)
	if bw.OK {
		checks = append(checks, userns(ctx))
	}
	checks = append(checks, seccomp(), landlockCheck(), cgroups(), ioURing(), tiocsti())
	return checks
}

// Capabilities is the short form for sandbox/status: name → detail of the
// checks that passed.
func Capabilities(checks []Check) map[string]string {
	m := make(map[string]string, len(checks))
	for _, c := range checks {
		if c.OK {
			m[c.Name] = c.Detail
		}
	}
	return m
}

func kernel() Check {
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return Check{Name: "kernel", Detail: err.Error()}
	}
	return Check{Name: "kernel", OK: true, Detail: "Linux " + strings.TrimSpace(string(rel))}
}

func bwrap(ctx context.Context) Check {
	c := Check{Name: "bwrap", Required: true,
		Fix: "install bubblewrap: sudo apt-get install bubblewrap (Debian/Ubuntu), sudo dnf install bubblewrap (Fedora), sudo pacman -S bubblewrap (Arch)"}
	path, err := exec.LookPath("bwrap")
	if err != nil {
		c.Detail = "not found on PATH"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ver := exec.CommandContext(ctx, path, "--version")
	ver.Env = sandbox.HostEnv()
	out, err := ver.Output()
	if err != nil {
		c.Detail = fmt.Sprintf("%s --version: %v", path, err)
		return c
	}
	c.OK, c.Detail, c.Fix = true, path+" ("+strings.TrimSpace(string(out))+")", ""
	return c
}

// Userns is the user-namespace check alone: whether bwrap can make the
// namespaces the bwrap backend needs here (it runs bwrap once).
func Userns(ctx context.Context) Check { return userns(ctx) }

// userns runs bwrap the way the backend does, which is the only reliable
// way to know that unprivileged user namespaces work here (sysctls,
// AppArmor and container runtimes can each forbid them).
func userns(ctx context.Context) Check {
	c := Check{Name: "user namespaces", Required: true}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bwrap", "--unshare-user", "--unshare-pid", "--unshare-net",
		"--cap-drop", "ALL", "--disable-userns", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true")
	cmd.Env = sandbox.HostEnv()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		c.Detail = strings.TrimSpace(stderr.String())
		if c.Detail == "" {
			c.Detail = err.Error()
		}
		c.Fix = UsernsFix()
		return c
	}
	c.OK, c.Detail = true, "bwrap can create user, PID and network namespaces"
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil {
		c.Detail += " (max_user_namespaces " + strings.TrimSpace(string(b)) + ")"
	}
	return c
}

func seccomp() Check {
	c := Check{Name: "seccomp", Required: true, Fix: "a kernel built with CONFIG_SECCOMP_FILTER"}
	b, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		c.Detail = "not available: " + err.Error()
		return c
	}
	actions := strings.Fields(string(b))
	c.OK, c.Fix = true, ""
	c.Detail = "filter actions: " + strings.Join(actions, " ")
	return c
}

func cgroups() Check {
	c := Check{Name: "cgroups"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		c.OK, c.Detail = true, "v2 (memory and process limits also through rlimits)"
		return c
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		c.OK, c.Detail = true, "v1 (limits are enforced with rlimits)"
		return c
	}
	c.Detail = "none mounted; limits are enforced with rlimits"
	return c
}

func ioURing() Check {
	c := Check{Name: "io_uring"}
	b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled")
	switch {
	case err != nil:
		c.Detail = "no io_uring_disabled sysctl; the sandbox's seccomp filter refuses io_uring"
	case strings.TrimSpace(string(b)) == "0":
		c.Detail = "enabled on the host; the sandbox's seccomp filter refuses it (its operations would bypass seccomp)"
	default:
		c.Detail = "disabled on the host (io_uring_disabled=" + strings.TrimSpace(string(b)) + ")"
	}
	c.OK = true
	return c
}

func tiocsti() Check {
	c := Check{Name: "TIOCSTI", OK: true}
	b, err := os.ReadFile("/proc/sys/dev/tty/legacy_tiocsti")
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		c.Detail = "legacy_tiocsti=1 on the host; each run gets its own session, so it cannot push keystrokes into your terminal"
		return c
	}
	c.Detail = "legacy TIOCSTI off"
	return c
}
