// Package runner runs one command end to end: a proxy session for its
// network, the sandbox for everything else, and one list of what was
// blocked. The CLI and the editor server both run commands through it.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/proxy"
	gitproxy "github.com/cordon-dev/cordon/proxy/git"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// Request is one command to run.
type Request struct {
	RunID string
	Label string // the command as shown to people; default the argv joined
	// Policy returns the current snapshot; it is called again for every
	// network decision so a reload applies to runs in flight.
	Policy func() *workspace.Policy

	Argv []string
	Dir  string
	Env  []string

	Stdin          io.Reader
	Stdout, Stderr io.Writer

	Timeout time.Duration
	// TTY: the three streams are the slave of a pty made for this run
	// (see sandbox.Spec.TTY).
	TTY bool

	// Approver decides unknown hosts; nil denies them.
	Approver proxy.Approver
	// OnViolation is told of each blocked access as it is known: network
	// refusals live, filesystem ones when the run ends.
	OnViolation func(sandbox.Violation)
}

// Outcome is how a run ended.
type Outcome struct {
	ExitCode   int
	Signal     int
	TimedOut   bool
	Violations []sandbox.Violation
}

// Runner holds what every run shares.
type Runner struct {
	Backend sandbox.Backend
	Audit   *proxy.Audit // may be nil
	// SocketDir is where proxy sessions make their socket directories
	// (default os.TempDir()).
	SocketDir       string
	ApprovalTimeout time.Duration
	Logger          *slog.Logger
}

// ErrSetup wraps every failure to set a run up: nothing was run.
var ErrSetup = errors.New("sandbox set-up failed")

// Run runs req to completion. Cancelling ctx kills every process of the
// run. An error wrapping ErrSetup means the command never started.
func (r *Runner) Run(ctx context.Context, req Request) (*Outcome, error) {
	pol := req.Policy()
	if pol == nil {
		return nil, fmt.Errorf("%w: no policy", ErrSetup)
	}
	label := req.Label
	if label == "" {
		label = sandbox.CommandLine(req.Argv)
	}
	logger := r.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	var (
		mu   sync.Mutex
		seen []sandbox.Violation
	)
	// report tells of each blocked access once: the same one again (npm
	// retrying a refused registry) only counts up.
	report := func(v sandbox.Violation) {
		if v.Count < 1 {
			v.Count = 1
		}
		mu.Lock()
		for i := range seen {
			if seen[i].Same(v) {
				seen[i].Count += v.Count
				mu.Unlock()
				return
			}
		}
		seen = append(seen, v)
		mu.Unlock()
		if req.OnViolation != nil {
			req.OnViolation(v)
		}
	}

	sess, err := proxy.NewSession(ctx, proxy.Config{
		RunID:           req.RunID,
		Command:         label,
		Policy:          req.Policy,
		Approver:        req.Approver,
		ApprovalTimeout: r.ApprovalTimeout,
		Audit:           r.Audit,
		Dir:             r.SocketDir,
		Logger:          logger,
		OnDecision: func(d proxy.Decision) {
			if d.Action != proxy.ActionDeny {
				return // an unreachable allowed host is no violation
			}
			target := d.Target()
			if d.Git != "" {
				target = d.Git
			}
			v := sandbox.Violation{
				RunID:   req.RunID,
				Command: label,
				Kind:    sandbox.KindNet,
				Target:  target,
				Rule:    d.Rule,
				Time:    d.Time,
			}
			if cause := d.Cause(); d.Rule.IsDefault() && cause != "default" {
				v.Reason = cause
			}
			report(v)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: proxy: %v", ErrSetup, err)
	}
	defer sess.Close()

	proc, err := r.Backend.Start(ctx, sandbox.Spec{
		Policy:  pol,
		Argv:    req.Argv,
		Dir:     req.Dir,
		Env:     gitproxy.Env(req.Env, pol.Git.Remotes),
		Stdin:   req.Stdin,
		Stdout:  req.Stdout,
		Stderr:  req.Stderr,
		Timeout: req.Timeout,
		Network: &sandbox.Network{ProxySocket: sess.SocketPath(), MirrorPorts: MirrorPorts(pol), Publish: PublishPorts(pol), Serve: sess.ServeConn},
		Label:   label,
		TTY:     req.TTY,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSetup, err)
	}

	// The backend kills on ctx itself; Wait also covers a Process whose
	// backend does not watch ctx.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = proc.Kill()
		case <-done:
		}
	}()
	res, err := proc.Wait()
	close(done)
	if err != nil {
		return nil, fmt.Errorf("waiting for the run: %w", err)
	}

	for _, v := range res.Violations {
		v.RunID, v.Command = req.RunID, label
		report(v)
	}
	mu.Lock()
	defer mu.Unlock()
	return &Outcome{
		ExitCode:   res.ExitCode,
		Signal:     res.Signal,
		TimedOut:   res.TimedOut,
		Violations: append([]sandbox.Violation(nil), seen...),
	}, nil
}

// PublishPorts lists the ports of [network] publish, each once.
func PublishPorts(p *workspace.Policy) []int {
	var ports []int
	seen := map[int]bool{}
	for _, r := range p.Network.Publish {
		if !seen[r.Port] {
			seen[r.Port] = true
			ports = append(ports, r.Port)
		}
	}
	return ports
}

// MirrorPorts lists the host loopback ports the policy allows by an explicit
// localhost:PORT rule; the sandbox mirrors each onto its own loopback (both
// 127.0.0.1 and ::1), relaying as localhost:PORT. An IP-literal rule such
// as 127.0.0.1:PORT is reached through the proxy by that address instead.
func MirrorPorts(p *workspace.Policy) []int {
	var ports []int
	seen := map[int]bool{}
	for _, r := range p.Network.Allow {
		if r.Port == 0 || seen[r.Port] {
			continue
		}
		if r.Host == "localhost" {
			seen[r.Port] = true
			ports = append(ports, r.Port)
		}
	}
	return ports
}
