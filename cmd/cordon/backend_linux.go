//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/hostns"
	"github.com/cordon-dev/cordon/sandbox/linux"
	"github.com/cordon-dev/cordon/sandbox/linux/initimage"
	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/probe"
	"github.com/cordon-dev/cordon/workspace"
)

// backendVar selects the Linux backend: "bwrap", "landlock", or unset
// (bwrap where it can make its namespaces, else the Landlock backend).
const backendVar = "CORDON_BACKEND"

// newBackend chooses the backend for this process, probing the machine
// once: bwrap where it can make its namespaces, else the Landlock +
// seccomp backend, else one that refuses every run with the fixes for
// both.
func newBackend(logger *slog.Logger) (sandbox.Backend, error) {
	bw := linux.New(linux.Options{Logger: logger, InitImage: initimage.Image()})
	switch v := os.Getenv(backendVar); v {
	case "bwrap":
		return bw, nil
	case hostns.Name:
		return hostns.New(hostns.Options{Logger: logger, Reason: backendVar + "=" + hostns.Name}), nil
	case "":
	default:
		return nil, fmt.Errorf("%s=%q: want %q or %q", backendVar, v, "bwrap", hostns.Name)
	}
	why := bwrapUnusable()
	if why == "" {
		return bw, nil
	}
	hb := hostns.New(hostns.Options{Logger: logger, Reason: "no user namespaces: " + why})
	if err := hb.Check(context.Background()); err != nil {
		return unavailable{fmt.Errorf("no sandbox can run here: bubblewrap cannot (%s; fix: %s), and %v", why, probe.UsernsFix(), err)}, nil
	}
	return hb, nil
}

// bwrapUnusable says why bubblewrap cannot make the namespaces the bwrap
// backend needs here, or "" when it can: the cheap signs first, then
// bwrap itself (sysctls, AppArmor and container profiles can each forbid
// them, and only a try tells). The try's answer is kept for a while in
// cordon's runtime dir, under everything it depends on, so that a
// command does not pay one more bwrap start: a stale "works" only makes
// the run fail with 125 and the fix, a stale "fails" runs the Landlock
// backend.
func bwrapUnusable() string {
	maxNS, _ := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if strings.TrimSpace(string(maxNS)) == "0" {
		return "user.max_user_namespaces = 0"
	}
	path, err := exec.LookPath("bwrap")
	if err != nil {
		// Not a namespace matter: the bwrap backend refuses with how to
		// install it (CORDON_BACKEND=landlock runs without it).
		return ""
	}
	key := probeKey(path, maxNS)
	rt := ""
	if dir, err := linux.RuntimeDir(); err == nil && key != "" {
		rt = dir
		// Opened as cordon's other state files are: no link followed, a
		// regular file of ours nobody else can write.
		if f, err := workspace.OpenPrivate(rt, "userns-probe", os.O_RDONLY, 0); err == nil {
			fi, serr := f.Stat()
			b, rerr := io.ReadAll(io.LimitReader(f, 4096))
			f.Close()
			if serr == nil && rerr == nil && time.Since(fi.ModTime()) < probeTTL {
				if k, answer, ok := strings.Cut(string(b), "\n"); ok && k == key {
					return answer
				}
			}
		}
	}
	answer := ""
	if c := probe.Userns(context.Background()); !c.OK {
		line, _, _ := strings.Cut(c.Detail, "\n")
		answer = strings.TrimPrefix(line, "bwrap: ")
		if answer == "" {
			answer = "bwrap cannot create its namespaces"
		}
	}
	if rt != "" {
		tmp := "userns-probe.tmp" + strconv.Itoa(os.Getpid())
		if f, err := workspace.OpenPrivate(rt, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			_, werr := f.WriteString(key + "\n" + answer)
			if cerr := f.Close(); werr == nil && cerr == nil {
				_ = os.Rename(filepath.Join(rt, tmp), filepath.Join(rt, "userns-probe"))
			} else {
				os.Remove(filepath.Join(rt, tmp))
			}
		}
	}
	return answer
}

// probeTTL is how long a probe's answer is kept.
const probeTTL = 10 * time.Minute

// probeKey names what the probe's answer depends on: the user, the boot,
// the namespace sysctls, AppArmor's restriction, the container and the
// bwrap binary. "" when one cannot be read (then no answer is kept).
func probeKey(bwrap string, maxNS []byte) string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	var parts []string
	for _, f := range []string{"/proc/sys/kernel/unprivileged_userns_clone", "/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "/proc/self/cgroup", "/proc/self/uid_map"} {
		b, _ := os.ReadFile(f)
		parts = append(parts, strings.TrimSpace(string(b)))
	}
	fi, err := os.Stat(bwrap)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%d %s %s %s %d %d %x", os.Getuid(), strings.TrimSpace(string(boot)), strings.TrimSpace(string(maxNS)),
		bwrap, fi.Size(), fi.ModTime().UnixNano(), sum[:8])
}

// unavailable is the backend when none can run: every run is refused
// with why and how to fix it.
type unavailable struct{ err error }

func (u unavailable) Name() string                    { return "none" }
func (u unavailable) Check(ctx context.Context) error { return u.err }
func (u unavailable) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Process, error) {
	return nil, u.err
}

// cleanCaches drops the workspace's copy-on-write cache layers.
func cleanCaches(p *workspace.Policy) (string, error) { return linux.CleanCaches(p) }

// runHidden runs the stages cordon re-executes itself for inside the
// sandbox. ok is false when args name none of them.
func runHidden(args []string) (code int, ok bool) {
	switch args[0] {
	case initstage.Arg:
		return initstage.Main(args[1:]), true
	case initstage.KeeperArg:
		return initstage.KeeperMain(args[1:]), true
	case initstage.ConnectArg:
		return initstage.ConnectMain(), true
	case linux.LayersArg:
		return linux.LayersMain(args[1:]), true
	}
	return 0, false
}

// platformChecks are cordon doctor's findings on Linux. Where the
// Landlock backend runs instead of bwrap, what bwrap lacks is no longer
// required, and what that backend holds less well is said, item by item.
func platformChecks(ctx context.Context) []probe.Check {
	checks := append(probe.Run(ctx), initStageCheck())
	b, err := newBackend(slog.New(slog.DiscardHandler))
	if err != nil || b.Name() != hostns.Name {
		return checks
	}
	for i, c := range checks {
		if !c.OK && (c.Name == "bwrap" || c.Name == "user namespaces") {
			checks[i].Required = false
			checks[i].Detail += "; the Landlock + seccomp backend runs instead"
		}
	}
	if err := b.Check(ctx); err != nil {
		return append(checks, probe.Check{Name: "landlock backend", Required: true, Detail: err.Error()})
	}
	checks = append(checks, probe.Check{Name: "backend", OK: true, Detail: "Landlock + seccomp, without namespaces: " + sandbox.Layers(b)})
	for i, w := range hostns.Weaker {
		c := probe.Check{Name: "weaker", Detail: w}
		if i == len(hostns.Weaker)-1 {
			c.Fix = "where bubblewrap can make user namespaces, cordon uses it instead: " + probe.UsernsFix()
		}
		checks = append(checks, c)
	}
	return checks
}
