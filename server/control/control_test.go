package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

type fakeHandler struct {
	mu         sync.Mutex
	begun      []Hello
	ended      []string
	violations []sandbox.Violation
	questions  []proxy.Question
	answer     proxy.Answer
	block      chan struct{}
	stop       func()
}

func (h *fakeHandler) Begin(hello Hello, stop func()) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stop = stop
	if strings.Contains(hello.Cwd, "refuse") {
		return "", errors.New("outside")
	}
	h.begun = append(h.begun, hello)
	return "run-7", nil
}

func (h *fakeHandler) Approve(ctx context.Context, q proxy.Question) proxy.Answer {
	h.mu.Lock()
	h.questions = append(h.questions, q)
	block := h.block
	h.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return proxy.Deny
		}
	}
	return h.answer
}

func (h *fakeHandler) Violation(_ string, v sandbox.Violation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.violations = append(h.violations, v)
}

func (h *fakeHandler) End(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = append(h.ended, id)
}

func serve(t *testing.T, dir, root string, h Handler) (stop func()) {
	t.Helper()
	l, err := Listen(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Serve(ctx, l, h, slog.New(slog.DiscardHandler))
		close(done)
	}()
	return func() { cancel(); <-done }
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rt")
	h := &fakeHandler{answer: proxy.AllowOnce}
	stop := serve(t, dir, "/ws", h)
	defer stop()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("runtime dir: %v %v", fi, err)
	}
	ctx := context.Background()
	r, err := Open(ctx, dir, "/ws", Hello{Origin: OriginShell, Command: "curl x", Cwd: "/ws/sub"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "run-7" {
		t.Fatalf("run id %q", r.ID)
	}
	// The question's run and command come from the hello, whatever the
	// client claims; the host is canonicalised.
	a, err := r.Approve(ctx, proxy.Question{RunID: "forged", Command: "forged", Host: "Example.COM.", Port: 443})
	if err != nil || a != proxy.AllowOnce {
		t.Fatalf("answer %q %v", a, err)
	}
	if a, _ := r.Approve(ctx, proxy.Question{Host: "bad\x00host", Port: 443}); a != proxy.Deny {
		t.Fatalf("a bad host was not denied: %q", a)
	}
	// The session asks the run to end.
	h.mu.Lock()
	stopRun := h.stop
	h.mu.Unlock()
	stopRun()
	select {
	case <-r.Stopped():
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not reach the client")
	}
	r.Violation(sandbox.Violation{Kind: sandbox.KindWrite, Target: "/etc/x", Command: "forged"})
	r.Violation(sandbox.Violation{Kind: "policy", Target: "/etc/x"}) // not a kind: dropped
	r.End(0)
	waitFor(t, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.ended) == 1 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.questions) != 1 || h.questions[0].Host != "example.com" || h.questions[0].Command != "curl x" || h.questions[0].RunID != "run-7" {
		t.Errorf("questions %+v", h.questions)
	}
	if len(h.violations) != 1 || h.violations[0].Command != "curl x" || h.violations[0].RunID != "run-7" {
		t.Errorf("violations %+v", h.violations)
	}
	if h.begun[0].PID != os.Getpid() || h.begun[0].Origin != OriginShell {
		t.Errorf("hello %+v", h.begun[0])
	}
}

func TestNoSessionAndStale(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	if _, err := Open(context.Background(), dir, "/ws", Hello{Origin: OriginCLI, Cwd: "/ws"}); !errors.Is(err, ErrNoSession) {
		t.Fatalf("no socket: %v", err)
	}
	// A socket whose session died: bound, never accepted on.
	path := SocketPath(dir, "/ws")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatal("positive control: the stale socket is not there")
	}
	if _, err := Open(context.Background(), dir, "/ws", Hello{Origin: OriginCLI, Cwd: "/ws"}); !errors.Is(err, ErrNoSession) {
		t.Fatalf("stale socket: %v", err)
	}
	h := &fakeHandler{answer: proxy.Deny}
	stop := serve(t, dir, "/ws", h) // replaces it
	// A second session finds the first alive.
	if _, err := Listen(dir, "/ws"); !errors.Is(err, ErrInUse) {
		t.Fatalf("second listener: %v", err)
	}
	r, err := Open(context.Background(), dir, "/ws", Hello{Origin: OriginCLI, Cwd: "/ws"})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	stop()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after the session: %v", err)
	}
}

func TestRefused(t *testing.T) {
	h := &fakeHandler{}
	dir := filepath.Join(t.TempDir(), "rf")
	stop := serve(t, dir, "/ws", h)
	defer stop()
	for _, hello := range []Hello{
		{Origin: "editor", Cwd: "/ws"}, // only routed origins
		{Origin: OriginCLI, Cwd: "rel"},
		{Origin: OriginCLI, Cwd: "/ws/refuse"},
	} {
		if _, err := Open(context.Background(), dir, "/ws", hello); err == nil || errors.Is(err, ErrNoSession) {
			t.Errorf("%+v: %v", hello, err)
		}
	}
}

// A directory open to others, or a symlink, is refused and left alone.
func TestDirChecks(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(open); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Errorf("0755: %v", err)
	}
	if fi, _ := os.Stat(open); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode changed: %v", fi.Mode())
	}
	link := filepath.Join(base, "link")
	priv := filepath.Join(base, "priv")
	_ = os.Mkdir(priv, 0o700)
	_ = os.Symlink(priv, link)
	if err := EnsureDir(link); err == nil {
		t.Error("a symlink was accepted")
	}
	if _, err := Listen(link, "/ws"); err == nil {
		t.Error("listened through a symlink")
	}
}

// As root: a socket (or directory) owned by someone else is refused by
// both ends, never connected to and never removed.
func TestForeignOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		sandboxtest.Skip(t, "not root: making a file owned by someone else needs root (CI runs it as root)")
	}
	dir := filepath.Join(t.TempDir(), "fo")
	if err := EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	path := SocketPath(dir, "/ws")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	accepted := make(chan bool, 1)
	go func() {
		c, err := ul.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err == nil
	}()
	// Positive control: as ours, the socket is connected to.
	if r, err := Open(context.Background(), dir, "/ws", Hello{Origin: OriginCLI, Cwd: "/ws"}); err == nil {
		r.Close()
	}
	if !<-accepted {
		t.Fatal("positive control: the socket was not dialled")
	}
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), dir, "/ws", Hello{Origin: OriginCLI, Cwd: "/ws"})
	if err == nil || errors.Is(err, ErrNoSession) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("foreign socket: %v", err)
	}
	if _, err := Listen(dir, "/ws"); err == nil || !strings.Contains(err.Error(), "owned by") {
		t.Fatalf("listen over a foreign socket: %v", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatal("the foreign socket was removed")
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(dir); err == nil || !strings.Contains(err.Error(), "owned by") {
		t.Fatalf("foreign dir: %v", err)
	}
}

// The session going away answers what waits with deny.
func TestSessionGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sg")
	h := &fakeHandler{answer: proxy.AllowOnce, block: make(chan struct{})}
	stop := serve(t, dir, "/ws", h)
	r, err := Open(context.Background(), dir, "/ws", Hello{Origin: OriginMCP, Cwd: "/ws"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan proxy.Answer)
	go func() {
		a, _ := r.Approve(context.Background(), proxy.Question{Host: "example.com", Port: 80})
		got <- a
	}()
	waitFor(t, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return len(h.questions) == 1 })
	stop()
	select {
	case a := <-got:
		if a != proxy.Deny {
			t.Fatalf("answer after the session ended: %q", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the question hung after the session ended")
	}
	if a, _ := r.Approve(context.Background(), proxy.Question{Host: "example.com", Port: 80}); a != proxy.Deny {
		t.Fatalf("later answer %q", a)
	}
	_ = r.Close()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}
