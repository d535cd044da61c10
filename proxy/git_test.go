package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gitproxy "github.com/cordon-dev/cordon/proxy/git"
	"github.com/cordon-dev/cordon/proxy/git/gittest"
	"github.com/cordon-dev/cordon/workspace"
)

// gitHarness is a session with a [git] policy, a real git server behind
// it, and a TCP front the host's git client reaches the session by, as the
// sandbox's git reaches the bridge.
type gitHarness struct {
	t      *testing.T
	srv    *gittest.Server
	url    string // the remote as the policy lists it
	pol    *workspace.Policy
	s      *Session
	proxy  string // http://127.0.0.1:PORT
	mu     sync.Mutex
	denied []Decision
}

func newGitHarness(t *testing.T, gitTable string) *gitHarness {
	t.Helper()
	srv := gittest.NewServer(t, "bob", "s3cret-token-77")
	url := srv.Repo(t, "app")
	srv.Repo(t, "other")
	// The host's git credential helper knows the credential; the client
	// (the "sandbox") does not.
	t.Setenv("HOME", srv.CredentialHome(t))
	h := &gitHarness{t: t, srv: srv, url: url}
	h.pol = policy(t, fmt.Sprintf("[network]\nunknown = \"deny\"\n\n[git]\nremotes = [%q]\n%s", url, gitTable))
	s, err := NewSession(context.Background(), Config{
		RunID: "run1", Command: "git", Policy: func() *workspace.Policy { return h.pol }, Dir: t.TempDir(),
		OnDecision: func(d Decision) {
			if d.Action == "deny" {
				h.mu.Lock()
				h.denied = append(h.denied, d)
				h.mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h.s = s
	h.proxy = "http://" + tcpFront(t, s)
	return h
}

// tcpFront is a loopback TCP listener whose connections the session
// serves, as the sandbox's bridge hands them over; it returns host:port.
func tcpFront(t testing.TB, s *Session) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.ServeConn(c)
		}
	}()
	return ln.Addr().String()
}

// git runs the host's git as the sandbox's would run: pointed at the
// endpoint by the environment cordon sets, no credential of its own.
func (h *gitHarness) git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitproxy.Env(append(gittest.Env(), "http_proxy="+h.proxy, "no_proxy="), h.pol.Git.Remotes)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (h *gitHarness) mustGit(dir string, args ...string) string {
	h.t.Helper()
	out, err := h.git(dir, args...)
	if err != nil {
		h.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (h *gitHarness) clone() string {
	h.t.Helper()
	dir := filepath.Join(h.t.TempDir(), "app")
	h.mustGit("", "clone", "-q", h.url, dir)
	return dir
}

func commit(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, dir, "add", name)
	gittest.Run(t, dir, "commit", "-q", "-m", name)
}

func (h *gitHarness) deniedFor(sub string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, d := range h.denied {
		if strings.Contains(d.Git, sub) {
			n++
		}
	}
	return n
}

func TestGitProxyCloneFetchPush(t *testing.T) {
	h := newGitHarness(t, "push = [\"agent/*\"]\n")
	dir := h.clone()
	if b, _ := os.ReadFile(filepath.Join(dir, "README")); string(b) != "hello\n" {
		t.Fatalf("cloned README = %q", b)
	}
	// The remote URL stays as written; the credential is nowhere in the
	// clone.
	if got := strings.TrimSpace(gittest.Run(t, dir, "remote", "get-url", "origin")); got != h.url {
		t.Errorf("origin = %q, want %q", got, h.url)
	}
	assertNoSecret(t, dir, h.srv.Password)

	commit(t, dir, "a")
	h.mustGit(dir, "push", "-q", "origin", "HEAD:refs/heads/agent/x")
	if got, want := h.srv.Ref(t, "app", "refs/heads/agent/x"), strings.TrimSpace(gittest.Run(t, dir, "rev-parse", "HEAD")); got != want {
		t.Fatalf("agent/x upstream = %q, want %q", got, want)
	}
	// A fast-forward of an allowed branch.
	commit(t, dir, "b")
	h.mustGit(dir, "push", "-q", "origin", "HEAD:refs/heads/agent/x")
	h.mustGit(dir, "fetch", "-q", "origin")

	// main is not in push: refused, upstream unchanged, and the client
	// prints cordon's line.
	mainBefore := h.srv.Ref(t, "app", "refs/heads/main")
	_, _, pushesBefore := h.srv.Counts()
	out, err := h.git(dir, "push", "origin", "HEAD:refs/heads/main")
	if err == nil {
		t.Fatalf("push to main succeeded:\n%s", out)
	}
	if !strings.Contains(out, "remote: cordon: push to refs/heads/main refused (.sandbox.toml:6)") {
		t.Errorf("client output lacks cordon's message:\n%s", out)
	}
	if got := h.srv.Ref(t, "app", "refs/heads/main"); got != mainBefore {
		t.Errorf("main moved upstream: %s → %s", mainBefore, got)
	}
	if _, _, pushes := h.srv.Counts(); pushes != pushesBefore {
		t.Errorf("the refused push reached the server (%d → %d receive-pack requests)", pushesBefore, pushes)
	}
	if h.deniedFor("push "+h.url+" refs/heads/main") != 1 {
		t.Errorf("denials: %+v", h.denied)
	}

	// Tags need their own pattern.
	gittest.Run(t, dir, "tag", "v1")
	if out, err := h.git(dir, "push", "origin", "v1"); err == nil || !strings.Contains(out, "push to refs/tags/v1 refused") {
		t.Errorf("tag push: %v\n%s", err, out)
	}

	// A non-fast-forward of an allowed branch and a delete: refused.
	gittest.Run(t, dir, "reset", "-q", "--hard", "HEAD~1")
	commit(t, dir, "c")
	before := h.srv.Ref(t, "app", "refs/heads/agent/x")
	if out, err := h.git(dir, "push", "-f", "origin", "HEAD:refs/heads/agent/x"); err == nil || !strings.Contains(out, "non-fast-forward push to refs/heads/agent/x refused (default)") {
		t.Errorf("force push: %v\n%s", err, out)
	}
	if out, err := h.git(dir, "push", "origin", ":refs/heads/agent/x"); err == nil || !strings.Contains(out, "delete of refs/heads/agent/x refused (default)") {
		t.Errorf("delete: %v\n%s", err, out)
	}
	if got := h.srv.Ref(t, "app", "refs/heads/agent/x"); got != before {
		t.Errorf("agent/x moved upstream: %s → %s", before, got)
	}

	// The server saw the credential, and every request without it was the
	// first try cordon answers by asking the host's helper.
	authed, unauthed, _ := h.srv.Counts()
	if authed == 0 || unauthed != 1 {
		t.Errorf("server saw %d requests with the credential, %d without (want >0, 1)", authed, unauthed)
	}
}

func TestGitProxyForceAndDeleteWhenAllowed(t *testing.T) {
	h := newGitHarness(t, "push = [\"agent/**\"]\nallow_force = true\nallow_delete = true\n")
	dir := h.clone()
	commit(t, dir, "a")
	commit(t, dir, "b")
	h.mustGit(dir, "push", "-q", "origin", "HEAD:refs/heads/agent/deep/x")
	gittest.Run(t, dir, "reset", "-q", "--hard", "HEAD~1")
	commit(t, dir, "c")
	h.mustGit(dir, "push", "-q", "-f", "origin", "HEAD:refs/heads/agent/deep/x")
	if got, want := h.srv.Ref(t, "app", "refs/heads/agent/deep/x"), strings.TrimSpace(gittest.Run(t, dir, "rev-parse", "HEAD")); got != want {
		t.Fatalf("force push not applied: %q, want %q", got, want)
	}
	h.mustGit(dir, "push", "-q", "origin", ":refs/heads/agent/deep/x")
	if got := h.srv.Ref(t, "app", "refs/heads/agent/deep/x"); got != "" {
		t.Fatalf("delete not applied: %q", got)
	}
}

func TestGitProxyUnlistedAndMalformed(t *testing.T) {
	h := newGitHarness(t, "push = [\"agent/*\"]\n")
	// A remote that is not listed: its endpoint does not exist.
	out, err := h.git("", "ls-remote", gitproxy.Endpoint(h.srv.URL+"/other.git"))
	if err == nil || !strings.Contains(out, "403") {
		t.Errorf("unlisted remote: %v\n%s", err, out)
	}
	if h.deniedFor("refs ") == 0 {
		t.Errorf("no denial recorded for the unlisted remote: %+v", h.denied)
	}
	// Positive control: the listed one answers through the same path.
	if out := h.mustGit("", "ls-remote", h.url); !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("ls-remote: %s", out)
	}

	id := strings.Repeat("1", 40)
	zero := strings.Repeat("0", 40)
	cmd := fmt.Sprintf("%s %s refs/heads/agent/x\x00report-status side-band-64k\n", zero, id)
	good := fmt.Sprintf("%04x%s0000", len(cmd)+4, cmd)
	for name, body := range map[string]string{
		"truncated":        good[:len(good)-10],
		"no flush":         good[:len(good)-4],
		"oversized length": "ffff" + strings.Repeat("x", 100),
		"bad hex":          "00zz" + good,
		"length 3":         "0003" + good,
		"bad id":           fmt.Sprintf("%04x%s0000", len(cmd)+4, strings.Replace(cmd, id, "ZZ"+id[2:], 1)),
		"bad ref":          fmt.Sprintf("%04x%s0000", len(cmd)+4, strings.Replace(cmd, "agent/x", "agent/.x", 1)),
		"v2 delimiter":     "0001" + good,
	} {
		_, _, before := h.srv.Counts()
		resp := h.post(t, body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "cordon: push refused") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
		if _, _, after := h.srv.Counts(); after != before {
			t.Errorf("%s: forwarded to the server", name)
		}
	}
}

// post sends a receive-pack request body to the endpoint, as a client
// through the proxy would.
func (h *gitHarness) post(t *testing.T, body string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(h.proxy, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST %s/git-receive-pack HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: %d\r\n\r\n%s",
		gitproxy.Endpoint(h.url), gitproxy.Host, len(body), body)
	resp, err := http.ReadResponse(newBufReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// assertNoSecret fails when secret is in any file below dir.
func assertNoSecret(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
			t.Errorf("%s holds the credential", p)
		}
		return nil
	})
}

func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// TestGitSSHHelper is not a test: it is git's ssh for TestGitProxySSH
// (the test binary run again), as `cordon git-ssh` is inside the sandbox.
func TestGitSSHHelper(t *testing.T) {
	bridge := os.Getenv("CORDON_TEST_GIT_SSH_BRIDGE")
	if bridge == "" {
		t.Skip("a helper process, run by TestGitProxySSH")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	dest, command, err := gitproxy.SSHDestination(args)
	if err != nil || !gitproxy.IsEndpointDestination(dest) {
		fmt.Fprintln(os.Stderr, "helper: not an endpoint:", dest, err)
		os.Exit(255)
	}
	if err := gitproxy.RelaySSH(context.Background(), bridge, command, os.Getenv("GIT_PROTOCOL"), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(128)
	}
	os.Exit(0)
}

// TestGitProxySSH: an ssh remote through the proxy, the host's "ssh" a
// stand-in that runs the remote command locally (as git's own tests do),
// so the relay and the push checks are tested without sshd; the real sshd
// is in cmd/cordon's TestNetE2E.
func TestGitProxySSH(t *testing.T) {
	srv := gittest.NewServer(t, "u", "p")
	srv.Repo(t, "app")
	bare := filepath.Join(srv.Root, "app.git")
	remote := "ssh://git@example.test" + bare
	fakeSSH := filepath.Join(t.TempDir(), "ssh")
	// The last argument is the remote command; run it here.
	os.WriteFile(fakeSSH, []byte("#!/bin/sh\nfor a; do last=$a; done\nexec sh -c \"$last\"\n"), 0o755)
	pol := policy(t, fmt.Sprintf("[git]\nremotes = [%q]\npush = [\"agent/*\"]\n", remote))
	s, err := NewSession(context.Background(), Config{RunID: "r", Command: "git", Policy: func() *workspace.Policy { return pol }, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.git.handler.SSH = fakeSSH
	front := tcpFront(t, s)
	git := func(dir string, args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = gitproxy.Env(append(gittest.Env(), "CORDON_TEST_GIT_SSH_BRIDGE="+front,
			"GIT_SSH_COMMAND="+os.Args[0]+" -test.run=^TestGitSSHHelper$ --", "GIT_SSH_VARIANT=ssh"), pol.Git.Remotes)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dir := filepath.Join(t.TempDir(), "app")
	if out, err := git("", "clone", "-q", remote, dir); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	commit(t, dir, "a")
	if out, err := git(dir, "push", "-q", "origin", "HEAD:refs/heads/agent/x"); err != nil {
		t.Fatalf("push agent/x: %v\n%s", err, out)
	}
	if srv.Ref(t, "app", "refs/heads/agent/x") == "" {
		t.Fatal("agent/x did not arrive")
	}
	before := srv.Ref(t, "app", "refs/heads/main")
	out, err := git(dir, "push", "origin", "HEAD:refs/heads/main")
	if err == nil || !strings.Contains(out, "remote: cordon: push to refs/heads/main refused (.sandbox.toml:3)") {
		t.Errorf("push to main: %v\n%s", err, out)
	}
	if srv.Ref(t, "app", "refs/heads/main") != before {
		t.Error("main moved")
	}
	gittest.Run(t, dir, "reset", "-q", "--hard", "HEAD~1")
	commit(t, dir, "b")
	if out, err := git(dir, "push", "-f", "origin", "HEAD:refs/heads/agent/x"); err == nil || !strings.Contains(out, "non-fast-forward push to refs/heads/agent/x refused") {
		t.Errorf("force push: %v\n%s", err, out)
	}
	commit(t, dir, "c")
	gittest.Run(t, dir, "pull", "-q", "--no-rebase", "--no-edit", srv.Root+"/app.git", "agent/x")
	if out, err := git(dir, "push", "-q", "origin", "HEAD:refs/heads/agent/x"); err != nil {
		t.Errorf("fast-forward push after a merge: %v\n%s", err, out)
	}
}
