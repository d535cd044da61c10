package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/server/control"
	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

func cmdRun(ctx context.Context, logger *slog.Logger, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var (
		wf     workspaceFlags
		asJSON bool
		shell  string
	)
	wf.register(fs, true)
	fs.BoolVar(&asJSON, "json", false, "report blocked accesses as JSON lines on stderr")
	fs.StringVar(&shell, "c", "", "run `SHELL STRING` with /bin/sh -c")
	if err := fs.Parse(args); err != nil {
		return exitSetup
	}
	argv := fs.Args()
	switch {
	case shell != "" && len(argv) > 0:
		return setupFailed(errors.New("give either -c 'SHELL STRING' or -- COMMAND, not both"))
	case shell != "":
		argv = []string{"/bin/sh", "-c", shell}
	case len(argv) == 0:
		return setupFailed(errors.New("no command: cordon run -- COMMAND [ARG...]"))
	}

	opts, err := wf.options()
	if err != nil {
		return setupFailed(err)
	}
	return hostRun{
		origin:   control.OriginCLI,
		opts:     opts,
		argv:     argv,
		stdin:    os.Stdin,
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		approver: newTerminalApprover(),
		asJSON:   asJSON,
	}.run(ctx, logger)
}

// hostRun is one command run from a terminal or an agent's shell call
// (cordon run, cordon shell): the same sandbox as the editor's runs, with
// approvals and violations routed to the workspace's editor session when
// one is open.
type hostRun struct {
	origin         string // control.OriginCLI or OriginShell
	opts           workspace.LoadOptions
	argv           []string
	label          string // default: the argv joined
	stdin          io.Reader
	stdout, stderr io.Writer
	tty            bool           // stdin/stdout/stderr are the run's own pty slave
	approver       proxy.Approver // with no editor session
	asJSON         bool
	// beforeRun, when set, is called once the sandbox is about to start
	// (after any question on the terminal); afterRun once it has ended.
	beforeRun func() error
	afterRun  func()
}

func (h hostRun) run(ctx context.Context, logger *slog.Logger) int {
	pol, err := loadForRun(h.opts)
	if err != nil {
		return setupFailed(err)
	}
	backend, err := newBackend(logger)
	if err != nil {
		return setupFailed(err)
	}
	if err := backend.Check(ctx); err != nil {
		return setupFailed(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		return setupFailed(err)
	}
	audit, err := proxy.OpenAudit(filepath.Join(h.opts.Dirs.StateDir, "audit.log"))
	if err != nil {
		return setupFailed(fmt.Errorf("audit log: %w", err))
	}
	defer audit.Close()
	label := h.label
	if label == "" {
		label = sandbox.CommandLine(h.argv)
	}
	dir := runDir(wd, pol)

	runID, approver := newRunID(), h.approver
	var room *control.Run
	room, err = control.Open(ctx, h.opts.Dirs.RuntimeDir, pol.Root, control.Hello{Origin: h.origin, Command: label, Cwd: dir})
	switch {
	case err == nil:
		runID, approver = room.ID, room
		defer room.Close()
		// sandbox/stop in the editor ends this run.
		var cancel context.CancelFunc
		ctx, cancel = room.StopContext(ctx)
		defer cancel()
	case !errors.Is(err, control.ErrNoSession):
		// A socket that is not the user's: say so, and ask as with no editor.
		fmt.Fprintf(os.Stderr, "cordon: not using the editor session: %v\n", err)
	}
	if h.beforeRun != nil {
		if err := h.beforeRun(); err != nil {
			return setupFailed(err)
		}
	}
	r := &runner.Runner{Backend: backend, Audit: audit, Logger: logger}
	out, err := r.Run(ctx, runner.Request{
		RunID:    runID,
		Label:    label,
		Policy:   func() *workspace.Policy { return pol },
		Argv:     h.argv,
		Dir:      dir,
		Env:      append(os.Environ(), sandboxMarker),
		Stdin:    h.stdin,
		Stdout:   h.stdout,
		Stderr:   h.stderr,
		TTY:      h.tty,
		Approver: approver,
		OnViolation: func(v sandbox.Violation) {
			if room != nil {
				room.Violation(v)
			}
		},
	})
	if h.afterRun != nil {
		h.afterRun()
	}
	if err != nil {
		if room != nil {
			room.End(exitSetup)
		}
		return setupFailed(err)
	}
	if room != nil {
		room.End(out.ExitCode)
	}
	reportViolations(os.Stderr, out.Violations, h.asJSON)
	if out.TimedOut {
		fmt.Fprintln(os.Stderr, "cordon: the command timed out and was killed")
	}
	return out.ExitCode
}

// sandboxMarker tells a shell's rc file it already runs inside cordon (so
// an `exec cordon shell` line there does not try to nest). It is a hint
// for convenience, never a security decision: outside, it changes nothing.
const sandboxMarker = "CORDON_SANDBOX=1"

// loadForRun loads the policy; when the workspace file widens the user
// defaults and is not trusted yet, it asks on the terminal, and otherwise
// says on stderr what is left out.
func loadForRun(opts workspace.LoadOptions) (*workspace.Policy, error) {
	pol, err := workspace.Load(opts)
	if err != nil {
		return nil, policyLoadError(err)
	}
	if len(pol.Untrusted) == 0 {
		return pol, nil
	}
	if tty, ok := openTerminal(); ok {
		defer tty.Close()
		fmt.Fprintf(tty, "cordon: %s widens your defaults:\n", pol.File)
		for _, w := range pol.Untrusted {
			fmt.Fprintf(tty, "  %s\n", w)
		}
		if askYesNo(tty, "Trust this file's current content? [y/N] ") {
			if err := (workspace.TrustStore{Dir: opts.Dirs.StateDir}).Trust(pol.File, pol.Hash); err != nil {
				return nil, fmt.Errorf("trusting %s: %w", pol.File, err)
			}
			if pol, err = workspace.Load(opts); err != nil {
				return nil, policyLoadError(err)
			}
			return pol, nil
		}
	}
	fmt.Fprintf(os.Stderr, "cordon: %s is not trusted; running without what it widens (`cordon trust` to approve):\n", pol.File)
	for _, w := range pol.Untrusted {
		fmt.Fprintf(os.Stderr, "cordon:   left out: %s\n", w)
	}
	return pol, nil
}

// policyLoadError makes an invalid policy a one-line reason.
func policyLoadError(err error) error {
	var pe *workspace.PolicyError
	if errors.As(err, &pe) && len(pe.Diagnostics) > 0 {
		msg := "invalid policy: " + pe.Diagnostics[0].Error()
		if n := len(pe.Diagnostics) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more; see cordon check)", n)
		}
		return errors.New(msg)
	}
	return err
}

// runDir is where the command starts: the caller's directory when it is
// inside the workspace, else the workspace root.
func runDir(wd string, pol *workspace.Policy) string {
	for _, root := range append([]string{pol.Root}, pol.Folders...) {
		if rel, err := filepath.Rel(root, wd); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return wd
		}
	}
	return pol.Root
}

func setupFailed(err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintf(os.Stderr, "cordon: %s\n", msg)
	return exitSetup
}

func reportViolations(w io.Writer, vs []sandbox.Violation, asJSON bool) {
	enc := json.NewEncoder(w)
	for _, v := range vs {
		if !asJSON {
			fmt.Fprintln(w, v.String())
			continue
		}
		_ = enc.Encode(v) // DESIGN's form, see sandbox.Violation.MarshalJSON
	}
}
