// Package gittest runs a real git server for tests: `git http-backend`
// behind net/http/cgi, with basic auth, on loopback.
package gittest

import (
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Server is a git smart-HTTP server whose every repository needs
// User:Password.
type Server struct {
	URL            string // http://127.0.0.1:PORT
	Root           string // the directory holding the bare repositories
	User, Password string

	mu       sync.Mutex
	authed   int      // requests that carried the right credential
	unauthed int      // requests without it
	pushes   int      // receive-pack POSTs that reached the backend
	log      []string // METHOD PATH of every request
}

// NewServer starts a server on 127.0.0.1; it stops with the test.
func NewServer(t testing.TB, user, password string) *Server {
	t.Helper()
	exec, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	s := &Server{Root: t.TempDir(), User: user, Password: password}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(exec)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + s.Root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		s.mu.Lock()
		s.log = append(s.log, r.Method+" "+r.URL.Path)
		good := ok && u == s.User && p == s.Password
		if good {
			s.authed++
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
				s.pushes++
			}
		} else {
			s.unauthed++
		}
		s.mu.Unlock()
		if !good {
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "credential needed", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Repo makes a bare repository NAME (".git" added) holding one commit on
// main, pushes enabled, and returns its URL.
func (s *Server) Repo(t testing.TB, name string) string {
	t.Helper()
	bare := filepath.Join(s.Root, name+".git")
	work := t.TempDir()
	Run(t, "", "init", "-q", "--bare", "-b", "main", bare)
	Run(t, bare, "config", "http.receivepack", "true")
	Run(t, "", "init", "-q", "-b", "main", work)
	if err := os.WriteFile(filepath.Join(work, "README"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Run(t, work, "add", "README")
	Run(t, work, "commit", "-q", "-m", "first")
	Run(t, work, "push", "-q", bare, "main")
	return s.URL + "/" + name + ".git"
}

// Ref is the id REF has in repository NAME, "" when it does not exist.
func (s *Server) Ref(t testing.TB, name, ref string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", filepath.Join(s.Root, name+".git"), "rev-parse", "--verify", "-q", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Counts returns the requests that carried the credential, those that did
// not, and the receive-pack requests that reached the backend.
func (s *Server) Counts() (authed, unauthed, pushes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authed, s.unauthed, s.pushes
}

// Log is every request so far, "METHOD PATH".
func (s *Server) Log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// Run runs git in dir with an environment of its own (no user config, a
// fixed identity) and fails the test on error.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Env is a clean environment for git: no global or system config, a fixed
// identity.
func Env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_TERMINAL_PROMPT=0",
	}
}

// CredentialHome makes a home whose git config answers `git credential
// fill` for the server from a store file, as a user's helper would, and
// returns it.
func (s *Server) CredentialHome(t testing.TB) string {
	t.Helper()
	home := t.TempDir()
	store := filepath.Join(home, "git-credentials")
	u := strings.Replace(s.URL, "http://", "http://"+s.User+":"+s.Password+"@", 1)
	if err := os.WriteFile(store, []byte(u+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "[credential]\n\thelper = store --file=" + store + "\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}
