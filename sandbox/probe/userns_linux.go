//go:build linux

package probe

import (
	"os"
	"strings"
)

// UsernsFix says why bubblewrap may be unable to create its namespaces
// here and how to fix it, from what the machine shows (no process is
// run): disabled by a sysctl, restricted by AppArmor (Ubuntu 23.10+), or
// refused by a container's seccomp profile (Docker, Podman).
func UsernsFix() string {
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return "user namespaces are disabled (user.max_user_namespaces = 0): sudo sysctl -w user.max_user_namespaces=15000"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return "unprivileged user namespaces are disabled: sudo sysctl -w kernel.unprivileged_userns_clone=1"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && strings.TrimSpace(string(b)) == "1" {
		return "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): give bwrap a profile that allows them " +
			"(/etc/apparmor.d/bwrap: `abi <abi/4.0>, include <tunables/global> profile bwrap /usr/bin/bwrap flags=(unconfined) { userns, }`, then sudo apparmor_parser -r /etc/apparmor.d/bwrap)"
	}
	if inContainer() {
		return "this looks like a container whose seccomp profile refuses new namespaces: start it with --security-opt seccomp=unconfined " +
			"(or a profile allowing clone/unshare of user namespaces), or run cordon on the host or in a VM"
	}
	return "allow unprivileged user namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or the AppArmor profile for bwrap on Ubuntu); see cordon doctor"
}

func inContainer() bool {
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	b, _ := os.ReadFile("/proc/1/cgroup")
	s := string(b)
	return strings.Contains(s, "docker") || strings.Contains(s, "containerd") || strings.Contains(s, "kubepods") || strings.Contains(s, "libpod")
}
