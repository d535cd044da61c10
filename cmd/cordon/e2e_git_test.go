//go:build linux

package main

// git through cordon, end to end: real git inside real bubblewrap, cordon's
// git proxy on the host, and a real git server (git http-backend behind
// net/http/cgi, basic auth) on the host's loopback.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/proxy/git/gittest"
)

func TestGitHTTPE2E(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		// Made at run time, so no file (this test's binary included)
		// holds it before the test writes it.
		secret := fmt.Sprintf("s3cret-%d-%d", os.Getpid(), time.Now().UnixNano())
		srv := gittest.NewServer(t, "bob", secret)
		url := srv.Repo(t, "app")
		other := srv.Repo(t, "other")
		mainBefore := srv.Ref(t, "app", "refs/heads/main")

		// The user's own git setup on the host: a store helper with the
		// credential in ~/.git-credentials (in the credential set, so
		// unreadable inside).
		store := strings.Replace(srv.URL, "http://", "http://bob:"+secret+"@", 1) + "\n"
		if err := os.WriteFile(filepath.Join(e.home, ".git-credentials"), []byte(store), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.home, ".gitconfig"), []byte("[credential]\n\thelper = store\n[user]\n\tname = t\n\temail = t@example.com\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.write(".sandbox.toml", fmt.Sprintf(`[network]
unknown = "deny"

[git]
remotes = [%q]
push = ["agent/*"]
`, url))
		if r := e.cordon("", "trust"); r.code != 0 {
			t.Fatalf("cordon trust: %d %s", r.code, r.stderr)
		}

		r := e.sandboxed(`set -u
git clone -q ` + url + ` app && cat app/README
cd app
echo "origin:$(git config remote.origin.url)"
echo a > a && git add a && git commit -qm a
git push -q origin HEAD:refs/heads/agent/x; echo "push-agent:$?"
git push origin HEAD:refs/heads/main 2>&1; echo "push-main:$?"
git push origin :refs/heads/agent/x 2>&1; echo "delete:$?"
git reset -q --hard HEAD~1 && echo b > b && git add b && git commit -qm b
git push -f origin HEAD:refs/heads/agent/x 2>&1; echo "force:$?"
git fetch -q origin; echo "fetch:$?"
git ls-remote ` + other + ` >/dev/null 2>&1; echo "unlisted:$?"
git -c http.proxy="$HTTP_PROXY" ls-remote ` + other + ` >/dev/null 2>&1; echo "unlisted-proxy:$?"
echo "store:$(cat ~/.git-credentials 2>/dev/null | wc -c)"
echo "env:$(env | grep -c ` + secret + `)"
echo "config:$(git config --list --show-origin | grep -c ` + secret + `)"
echo "files:$(grep -rl ` + secret + ` ~ . /tmp 2>/dev/null | wc -l)"
echo "fill:$(printf 'protocol=http\nhost=` + strings.TrimPrefix(srv.URL, "http://") + `\n\n' | GIT_TERMINAL_PROMPT=0 git credential fill 2>/dev/null | grep -c ` + secret + `)"`)
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)

		for _, w := range []string{
			"hello\n", "origin:" + url + "\n", "push-agent:0\n",
			"remote: cordon: push to refs/heads/main refused (.sandbox.toml:6)", "push-main:1\n",
			"remote: cordon: delete of refs/heads/agent/x refused (default)", "delete:1\n",
			"remote: cordon: non-fast-forward push to refs/heads/agent/x refused (default)", "force:1\n",
			"fetch:0\n", "unlisted:128\n", "unlisted-proxy:128\n", "store:0\n",
			"env:0\n", "config:0\n", "files:0\n", "fill:0\n",
		} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("stdout lacks %q", w)
			}
		}
		if !strings.Contains(r.stderr, "cordon: blocked net push "+url+" refs/heads/main ("+filepath.Join(e.ws, ".sandbox.toml")+":6)") {
			t.Errorf("stderr lacks the violation for the push to main")
		}
		// The store reads as its empty mask, and the read is reported.
		if !strings.Contains(r.stderr, "cordon: blocked read "+filepath.Join(e.home, ".git-credentials")+" (default)") {
			t.Errorf("stderr lacks the read of ~/.git-credentials")
		}
		// Upstream: agent/x arrived (the pushed commit, not the refused
		// force), main did not move, other.git was never asked.
		if srv.Ref(t, "app", "refs/heads/agent/x") == "" {
			t.Error("agent/x did not arrive upstream")
		}
		if got := srv.Ref(t, "app", "refs/heads/main"); got != mainBefore {
			t.Errorf("main moved upstream: %s → %s", mainBefore, got)
		}
		for _, l := range srv.Log() {
			if strings.Contains(l, "/other.git/") {
				t.Errorf("the unlisted remote was reached: %s", l)
			}
		}
		// The credential reached the server only through cordon: every
		// authenticated request came from the proxy (the sandbox has no
		// route to loopback but the proxy), and the one unauthenticated
		// request is the proxy's first try before asking the helper.
		authed, unauthed, pushes := srv.Counts()
		if authed == 0 || unauthed != 1 || pushes != 1 {
			t.Errorf("server: %d requests with the credential, %d without, %d pushes (want >0, 1, 1)", authed, unauthed, pushes)
		}
		// The audit log has the refused push.
		audit, _ := os.ReadFile(filepath.Join(e.home, ".local", "state", "cordon", "audit.log"))
		if !strings.Contains(string(audit), `"git":"push `+url+` refs/heads/main"`) {
			t.Errorf("audit log lacks the refused push:\n%s", audit)
		}
	})
}

// testGitSSHRemote (in TestNetE2E, beside its sshd): an ssh remote listed
// in [git] is reached by the host's ssh with a key only the host's agent
// holds; the sandbox sees neither agent nor key, and pushes are checked
// as over HTTP.
func testGitSSHRemote(t *testing.T, h *hostServers, newNetEnv func(*testing.T, *testUser) *env) {
	e := newNetEnv(t, nil)
	agent := filepath.Join(t.TempDir(), "agent.sock")
	ag := exec.Command("ssh-agent", "-D", "-a", agent)
	if err := ag.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { ag.Process.Kill(); ag.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(agent); err == nil {
			break
		}
		if i == 50 {
			t.Fatal("ssh-agent did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	add := exec.Command("ssh-add", "-q", filepath.Join(h.dir, "id"))
	add.Env = []string{"SSH_AUTH_SOCK=" + agent, "PATH=" + os.Getenv("PATH")}
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	// The user's ssh config on the host (hidden inside, like ~/.ssh).
	os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(e.home, ".ssh", "config"), []byte("Host ssh.test\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"), 0o600)
	repo := filepath.Join(h.dir, "repo.git")
	remote := "ssh://root@ssh.test:2222" + repo
	e.write(".sandbox.toml", fmt.Sprintf("[git]\nremotes = [%q]\npush = [\"agent/*\"]\n", remote))
	if r := e.cordon("", "trust"); r.code != 0 {
		t.Fatalf("cordon trust: %d %s", r.code, r.stderr)
	}
	gitRef := func(ref string) string {
		out, _ := exec.Command("git", "--git-dir", repo, "rev-parse", "-q", "--verify", ref).Output()
		return strings.TrimSpace(string(out))
	}
	mainBefore := gitRef("refs/heads/main")
	e.extra = append(e.extra, "SSH_AUTH_SOCK="+agent)
	r := e.sandboxed(`git clone -q ` + remote + ` app && cat app/README
cd app
echo "origin:$(git config remote.origin.url)"
git -c user.name=t -c user.email=t@t commit -q --allow-empty -m a
git push -q origin HEAD:refs/heads/agent/ssh; echo "push-agent:$?"
git push origin HEAD:refs/heads/main 2>&1; echo "push-main:$?"
git push origin :refs/heads/agent/ssh 2>&1; echo "delete:$?"
git reset -q --hard HEAD~1 && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m b
git push -f origin HEAD:refs/heads/agent/ssh 2>&1; echo "force:$?"
git fetch -q origin; echo "fetch:$?"
echo "agent:${SSH_AUTH_SOCK:-none}"
echo "keys:$(cat ~/.ssh/* 2>/dev/null | wc -c)"`)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	for _, w := range []string{"cloned over ssh\n", "origin:" + remote + "\n", "push-agent:0\n",
		"remote: cordon: push to refs/heads/main refused (.sandbox.toml:3)", "push-main:1\n",
		"remote: cordon: delete of refs/heads/agent/ssh refused (default)", "delete:1\n",
		"remote: cordon: non-fast-forward push to refs/heads/agent/ssh refused (default)", "force:1\n",
		"fetch:0\n", "agent:none\n", "keys:0\n"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	// The pushed commit arrived; the refused delete and force left it.
	pushed := gitRef("refs/heads/agent/ssh")
	if pushed == "" {
		t.Error("agent/ssh did not arrive upstream (or the refused delete removed it)")
	} else if msg, _ := exec.Command("git", "--git-dir", repo, "log", "-1", "--format=%s", pushed).Output(); strings.TrimSpace(string(msg)) != "a" {
		t.Errorf("agent/ssh upstream is %q, not the pushed commit a (the refused force went through)", msg)
	}
	if got := gitRef("refs/heads/main"); got != mainBefore {
		t.Errorf("main moved upstream: %s → %s", mainBefore, got)
	}
	if !strings.Contains(r.stderr, "cordon: blocked net push "+remote+" refs/heads/main (") {
		t.Error("stderr lacks the violation for the push to main")
	}
}
