package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cordon-dev/cordon/workspace"
)

// folder is one served workspace folder: its own policy snapshot, watcher
// and trust.
type folder struct {
	s      *server
	root   string
	others []string
	dirs   workspace.Dirs
	file   string // the workspace policy file

	policy atomic.Pointer[workspace.Policy] // last good; nil until one loaded

	mu      sync.Mutex // serialises reloads
	lastErr string
	watcher *workspace.Watcher
}

func newFolder(s *server, root string, others []string, dirs workspace.Dirs) *folder {
	return &folder{s: s, root: root, others: others, dirs: dirs, file: root + string(os.PathSeparator) + ".sandbox.toml"}
}

// Policy is the live snapshot getter handed to runs: a reload applies at
// once, also to the proxy decisions of runs in flight.
func (f *folder) Policy() *workspace.Policy { return f.policy.Load() }

func (f *folder) watch(ctx context.Context) error {
	w, err := workspace.Watch(ctx, []string{f.file, f.dirs.UserFile()}, f.s.opts.Debounce, f.reload)
	if err != nil {
		return fmt.Errorf("watching %s: %w", f.file, err)
	}
	f.mu.Lock()
	f.watcher = w
	f.mu.Unlock()
	return nil
}

// reload loads the policy again. A valid one replaces the snapshot; an
// invalid one keeps the last good and is shown as policy-error diagnostics.
func (f *folder) reload() {
	f.mu.Lock()
	defer f.mu.Unlock()
	files := []string{f.file, f.dirs.UserFile()}
	p, err := workspace.Load(workspace.LoadOptions{Root: f.root, Folders: f.others, Dirs: f.dirs})
	if err != nil {
		f.lastErr = err.Error()
		f.s.log.Info("policy invalid; the last good one stays in force", "root", f.root, "err", err)
		var pe *workspace.PolicyError
		if errors.As(err, &pe) {
			f.s.publishPolicy(f, files, pe.Diagnostics)
		} else {
			f.s.log.Error("loading policy", "root", f.root, "err", err)
			f.s.publishPolicy(f, files, []workspace.Diagnostic{{File: f.file, Line: 1, Col: 1, Severity: workspace.SeverityError, Message: err.Error()}})
		}
		return
	}
	f.lastErr = ""
	old := f.policy.Swap(p)
	if old == nil || old.Hash != p.Hash || old.Trusted != p.Trusted {
		f.s.log.Info("policy loaded", "root", f.root, "file", p.File, "exists", p.Hash != "", "trusted", p.Trusted, "untrusted", len(p.Untrusted), "warnings", len(p.Warnings))
	}
	f.s.publishPolicy(f, files, p.Warnings)
	if old != nil {
		// The rules that decided these are gone or changed.
		f.s.clearViolations(f, "")
	}
	// An untrusted widening is not asked about here, while the user may
	// be typing: the editor's Trust command or the next run asks.
}

// offerTrust asks about the policy in force when it widens something not
// trusted yet; the run goes on meanwhile, and a yes applies at once.
func (s *server) offerTrust(f *folder) {
	if p := f.Policy(); p != nil && !p.Trusted && len(p.Untrusted) > 0 && s.ready.Load() {
		s.askTrust(f, p)
	}
}

// stop ends the watcher and waits for it, so no reload starts after Serve.
func (f *folder) stop() {
	f.mu.Lock()
	w := f.watcher
	f.watcher = nil
	f.mu.Unlock()
	if w != nil {
		_ = w.Close()
	}
}

func (f *folder) status() folderStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := folderStatus{Root: f.root, Error: f.lastErr}
	if !fileExists(f.file) {
		return st
	}
	file := f.file
	st.PolicyFile = &file
	p := f.policy.Load()
	if p == nil {
		return st // invalid from the start: nothing in force, runs refused
	}
	st.LastGood = f.lastErr != ""
	st.PolicyHash, st.Trusted = p.Hash, p.Trusted && p.Hash != ""
	for _, w := range p.Untrusted {
		st.Untrusted = append(st.Untrusted, widening{Kind: string(w.Kind), Target: w.Target, Line: w.Source.Line})
	}
	return st
}

// askTrust asks the user, once per content, whether the workspace file may
// widen the user defaults; a yes goes to the trust store `cordon trust` uses.
func (s *server) askTrust(f *folder, p *workspace.Policy) {
	s.mu.Lock()
	if s.trustAsking == nil {
		s.trustAsking = map[string]bool{}
	}
	key := p.File + "\x00" + p.Hash
	if s.trustAsking[key] {
		s.mu.Unlock()
		return
	}
	s.trustAsking[key] = true
	s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s widens what the sandbox allows:", p.File)
	for _, w := range p.Untrusted {
		fmt.Fprintf(&b, "\n- %s %s (line %d)", w.Kind, w.Target, w.Source.Line)
	}
	b.WriteString("\nUntil you trust this content, runs proceed without these.")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ans := s.ask(s.ctx, approveParams{Kind: "policy", Target: p.File, Message: b.String()})
		if ans == answerDeny {
			return
		}
		if err := (workspace.TrustStore{Dir: f.dirs.StateDir}).Trust(p.File, p.Hash); err != nil {
			s.log.Error("trusting policy", "file", p.File, "err", err)
			return
		}
		f.reload()
	}()
}
