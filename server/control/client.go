package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
)

// ErrNoSession means no editor session serves the workspace: the caller
// falls back as with no editor (terminal prompt, else deny).
var ErrNoSession = errors.New("control: no editor session for this workspace")

// Run is one run routed to an editor session: its questions about unknown
// hosts are put to the editor's user, its violations shown there. A Run
// whose connection is lost answers every later question with deny.
type Run struct {
	ID string // the run id the session gave it

	conn net.Conn
	wmu  sync.Mutex // one writer at a time

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan proxy.Answer
	closed  bool
	done    chan struct{}
	stopped chan struct{} // closed when the session asks to end the run
	stop    sync.Once
}

// Open announces a run to the session serving root, if any. It returns
// ErrNoSession when there is none (no socket, or a stale one). A socket or
// directory that is not the user's is an error, not "no session": someone
// is trying to stand in for the editor.
func Open(ctx context.Context, runtimeDir, root string, h Hello) (*Run, error) {
	if err := EnsureDir(runtimeDir); err != nil {
		return nil, err
	}
	path := SocketPath(runtimeDir, root)
	if err := checkOwned(path, false); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoSession
		}
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "unix", path)
	if err != nil {
		return nil, ErrNoSession // stale: the session that made it is gone
	}
	if err := peerIsUs(c); err != nil {
		c.Close()
		return nil, err
	}
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := writeMessage(c, message{Type: typeHello, Hello: &h}); err != nil {
		c.Close()
		return nil, fmt.Errorf("control: hello: %w", err)
	}
	sc := newScanner(c)
	if !sc.Scan() {
		c.Close()
		return nil, fmt.Errorf("control: no welcome: %v", sc.Err())
	}
	var m message
	if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
		c.Close()
		return nil, fmt.Errorf("control: welcome: %w", err)
	}
	if m.Type != typeWelcome || m.RunID == "" {
		c.Close()
		if m.Type == typeRefused {
			return nil, fmt.Errorf("control: the editor session refused the run: %s", m.Error)
		}
		return nil, fmt.Errorf("control: unexpected %q", m.Type)
	}
	_ = c.SetDeadline(time.Time{})
	r := &Run{ID: m.RunID, conn: c, pending: map[int64]chan proxy.Answer{}, done: make(chan struct{}), stopped: make(chan struct{})}
	go r.read(sc)
	return r, nil
}

func (r *Run) read(sc interface {
	Scan() bool
	Bytes() []byte
}) {
	defer r.shut()
	for sc.Scan() {
		var m message
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.Type == typeStop {
			r.stop.Do(func() { close(r.stopped) })
			continue
		}
		if m.Type != typeAnswer {
			continue
		}
		r.mu.Lock()
		ch := r.pending[m.ID]
		delete(r.pending, m.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- m.Decision
		}
	}
}

// shut marks the connection gone and denies what is still waiting.
func (r *Run) shut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	close(r.done)
	for id, ch := range r.pending {
		ch <- proxy.Deny
		delete(r.pending, id)
	}
}

func (r *Run) send(m message) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return writeMessage(r.conn, m)
}

// Approve puts q to the editor's user. Anything but an allow in time is a
// deny. It is a proxy.Approver.
func (r *Run) Approve(ctx context.Context, q proxy.Question) (proxy.Answer, error) {
	ch := make(chan proxy.Answer, 1)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return proxy.Deny, errors.New("control: the editor session is gone")
	}
	r.nextID++
	id := r.nextID
	r.pending[id] = ch
	r.mu.Unlock()
	if err := r.send(message{Type: typeApprove, ID: id, Host: q.Host, Port: q.Port}); err != nil {
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
		return proxy.Deny, fmt.Errorf("control: asking: %w", err)
	}
	select {
	case a := <-ch:
		switch a {
		case proxy.AllowOnce, proxy.AllowAlways:
			return a, nil
		}
		return proxy.Deny, nil
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
		return proxy.Deny, ctx.Err()
	}
}

// Stopped is closed when the editor asks to end the run (sandbox/stop):
// the caller cancels it.
func (r *Run) Stopped() <-chan struct{} { return r.stopped }

// StopContext is ctx, also cancelled when the editor stops the run
// (sandbox/stop); call cancel when the run ends.
func (r *Run) StopContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-r.Stopped():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Violation reports one blocked access to the editor.
func (r *Run) Violation(v sandbox.Violation) {
	v.RunID = r.ID
	_ = r.send(message{Type: typeViolation, Violation: &v})
}

// End says how the run ended and closes the connection; the session drops
// the run from its list.
func (r *Run) End(exitCode int) {
	_ = r.send(message{Type: typeEnd, ExitCode: &exitCode})
	_ = r.Close()
}

// Close drops the connection.
func (r *Run) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}
