package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/server/control"
	"github.com/cordon-dev/cordon/workspace"
)

// openControlRooms listens on each folder's control socket, so runs that
// `cordon run`, `cordon mcp` and `cordon shell` start in the workspace ask
// their questions here and show their violations here. Without a runtime
// directory (tests, or a machine without one) there is no control room.
func (s *server) openControlRooms(folders []*folder) {
	dir := s.opts.Dirs.RuntimeDir
	if dir == "" {
		return
	}
	for _, f := range folders {
		l, err := control.Listen(dir, f.root)
		if errors.Is(err, control.ErrInUse) {
			s.log.Info("another editor session is the control room", "root", f.root)
			continue
		}
		if err != nil {
			s.log.Warn("no control room", "root", f.root, "err", err)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			control.Serve(s.ctx, l, &room{s: s, f: f}, s.log)
		}()
	}
}

// room serves one folder's routed runs.
type room struct {
	s *server
	f *folder
}

func (r *room) Begin(h control.Hello, stop func()) (string, error) {
	if !within(r.f.root, h.Cwd) {
		return "", fmt.Errorf("%s is outside %s", h.Cwd, r.f.root)
	}
	id := "run-" + strconv.FormatInt(r.s.runSeq.Add(1), 10)
	r.s.mu.Lock()
	// sandbox/stop asks the client to end it and waits for its end.
	r.s.runs[id] = &runInfo{id: id, label: h.Command, dir: h.Cwd, started: time.Now(), origin: h.Origin, pid: h.PID,
		stop: func() { stop() }, done: make(chan struct{})}
	r.s.mu.Unlock()
	return id, nil
}

func (r *room) Approve(ctx context.Context, q proxy.Question) proxy.Answer {
	a, err := r.s.approver(r.f, q.RunID).Approve(ctx, q)
	if err != nil {
		return proxy.Deny
	}
	return a
}

func (r *room) Violation(_ string, v sandbox.Violation) {
	// The rule only places the diagnostic; a client may not put one on a
	// file that is not a policy file of this folder.
	if v.Rule.File != r.f.file && v.Rule.File != r.f.dirs.UserFile() {
		v.Rule = workspace.Source{}
	}
	if err := r.s.conn.notify("sandbox/violation", v); err != nil {
		r.s.log.Warn("sending violation", "err", err)
	}
	r.s.showViolation(r.f, v)
}

func (r *room) End(runID string) {
	r.s.mu.Lock()
	info := r.s.runs[runID]
	delete(r.s.runs, runID)
	r.s.mu.Unlock()
	if info != nil {
		close(info.done)
	}
}
