//go:build linux

package linux

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// standaloneFixture is a workspace, a home and a place outside both.
type standaloneFixture struct {
	ws, home, out, bin string
	user               *sandboxtest.User
}

func newStandaloneFixture(t *testing.T, u *sandboxtest.User, policy string) *standaloneFixture {
	t.Helper()
	base := sandboxtest.Dir(t, u)
	f := &standaloneFixture{ws: filepath.Join(base, "ws"), home: filepath.Join(base, "home"), out: filepath.Join(base, "outside"), user: u}
	files := map[string]string{
		"ws/.sandbox.toml":                policy,
		"ws/.git/HEAD":                    "ref: refs/heads/main\n",
		"ws/.git/config":                  "[core]\n",
		"ws/.git/hooks/pre-commit.sample": "#!/bin/sh\n",
		"ws/.git/objects/ab/cdef":         "obj",
		"ws/README":                       "readme\n",
		"ws/src/main.go":                  "package main\n",
		"ws/build/old.o":                  "o",
		"ws/keys/a.pem":                   "key\n",
		"ws/certs/sub/readme":             "certs\n",
		"home/.aws/credentials":           "AKIA-secret\n",
		"outside/f":                       "host\n",
	}
	for rel, content := range files {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(base, "bin"), 0o755)
	f.bin = sandboxtest.Executable(t, filepath.Join(base, "bin"))
	if u != nil {
		sandboxtest.Chown(t, base, u)
	}
	return f
}

// run runs script in the workspace through the standalone stand-in
// (off: with nothing in force) and returns its output.
func (f *standaloneFixture) run(t *testing.T, off bool, script string) string {
	t.Helper()
	args := []string{standaloneArg, f.ws, f.home, "--", "sh", "-c", script}
	var cmd *exec.Cmd
	if f.user != nil {
		cmd = f.user.Command(f.home, f.bin, args...)
	} else {
		cmd = exec.Command(f.bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+f.home)
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if off {
		cmd.Env = append(cmd.Env, standaloneOffVar+"=1")
	}
	cmd.Dir = f.ws
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sandboxtest.Within(t, sandboxtest.Wait, "the standalone run", func() { _ = cmd.Wait() })
	return out.String()
}

// step is one shell command of the attack script and what must hold.
type step struct {
	name, sh string
	// attack: refused under the standalone layers, done with nothing in
	// force (the positive control); otherwise it must work in both.
	attack bool
	// effect reports whether the attack's effect is on disk.
	effect func(f *standaloneFixture) bool
}

func (f *standaloneFixture) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(f.ws, rel))
	return err == nil
}

func (f *standaloneFixture) content(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func standaloneSteps() []step {
	gitConfigChanged := func(f *standaloneFixture) bool {
		return f.content(filepath.Join(f.ws, ".git/config")) != "[core]\n"
	}
	return []step{
		// What must keep working.
		{name: "newfile", sh: `echo a > f && cat f && chmod +x f && touch f`},
		{name: "newdirs", sh: `mkdir -p n/s && echo b > n/s/g && cat n/s/g && mv n/s/g n/s/h && rm -r n`},
		{name: "existing", sh: `echo c >> README && touch README`},
		{name: "granted", sh: `echo d > src/x && mv src/x src/y && mv src/y y && rm y`},
		{name: "rebuild", sh: `rm -rf build && mkdir build && echo e > build/o && cat build/o`},
		{name: "gitdir", sh: `echo i > .git/index.lock && mv .git/index.lock .git/index && echo j > .git/objects/ab/new`},
		{name: "keysother", sh: `echo k > keys/ok.txt && echo c > certs/sub/ok.txt && echo c >> certs/sub/readme`},
		{name: "goodlink", sh: `echo z > t1 && ln -s t1 lnk && echo w >> lnk && cat t1`},
		{name: "procchmodown", sh: `echo m > m && exec 3<m && chmod 600 /proc/self/fd/3`},
		{name: "gitinit", sh: `git init -q repo && cd repo && echo a > a && git add a && git -c user.name=a -c user.email=a@b commit -qm a && git log --oneline | grep -q a`},
		{name: "tmp", sh: `echo t > "$TMPDIR/t" && cat "$TMPDIR/t"`},

		// Attacks on protected paths inside the workspace.
		{name: "hook", sh: `echo x > .git/hooks/pre-commit`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/pre-commit") }},
		{name: "vscode", sh: `mkdir .vscode`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".vscode") }},
		{name: "envrc", sh: `echo x > .envrc`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".envrc") }},
		{name: "appendconfig", sh: `echo x >> .git/config`, attack: true, effect: gitConfigChanged},
		{name: "chmodconfig", sh: `chmod 600 .git/config`, attack: true, effect: func(f *standaloneFixture) bool {
			fi, err := os.Stat(filepath.Join(f.ws, ".git/config"))
			return err == nil && fi.Mode().Perm() == 0o600
		}},
		{name: "symlink", sh: `ln -s .git/hooks/pre-push lnk-hook && echo evil > lnk-hook`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/pre-push") }},
		{name: "renameinto", sh: `echo evil > r1 && mv r1 .git/hooks/post-checkout`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/post-checkout") }},
		{name: "renameprotected", sh: `echo evil > r2 && mv r2 .bashrc`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".bashrc") }},
		{name: "hardlink", sh: `ln .git/config hl && echo x >> hl`, attack: true, effect: gitConfigChanged},
		{name: "cdhook", sh: `cd .git/hooks && echo x > post-merge`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/post-merge") }},
		{name: "linkeddir", sh: `ln -s .git gl && echo x > gl/hooks/post-commit`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/post-commit") }},
		{name: "grantedlink", sh: `ln -s ../.git/config src/c && echo x >> src/c`, attack: true, effect: gitConfigChanged},
		{name: "procfd", sh: `exec 3<.git/config && echo x >> /proc/self/fd/3`, attack: true, effect: gitConfigChanged},
		{name: "procchmod", sh: `exec 3<.sandbox.toml && chmod 604 /proc/self/fd/3`, attack: true, effect: func(f *standaloneFixture) bool {
			fi, err := os.Stat(filepath.Join(f.ws, ".sandbox.toml"))
			return err == nil && fi.Mode().Perm() == 0o604
		}},
		{name: "movehooks", sh: `mv .git/hooks .git/h2 && echo x > .git/h2/moved && mv .git/h2 .git/hooks`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/moved") || f.exists(".git/h2") }},
		// A link swapped between a granted place and a protected one while
		// writes go through it: a write the supervisor hands back to the
		// kernel is judged again there, by Landlock, at the end of the
		// links as they are then.
		{name: "race", sh: `mkdir -p src/hooks; (for i in $(seq 60); do ln -sfn src/hooks rx; ln -sfn .git/hooks rx; done) & while kill -0 $! 2>/dev/null; do echo evil 2>/dev/null > rx/pre-applypatch; done; test -e .git/hooks/pre-applypatch`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/pre-applypatch") }},
		{name: "raceran", sh: `test -e src/hooks/pre-applypatch`}, // the writes went through the link's granted side: the race was run
		{name: "globnew", sh: `echo k > keys/new.pem`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists("keys/new.pem") }},
		{name: "globdeep", sh: `echo c > certs/sub/new.crt`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists("certs/sub/new.crt") }},
		{name: "globexisting", sh: `echo k >> keys/a.pem`, attack: true, effect: func(f *standaloneFixture) bool {
			return f.content(filepath.Join(f.ws, "keys/a.pem")) != "key\n"
		}},
		{name: "globrename", sh: `echo k > keys/k.txt && mv keys/k.txt keys/k.pem`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists("keys/k.pem") }},
		// Outside the writable places.
		{name: "outwrite", sh: `echo x > "$OUT/f"`, attack: true, effect: func(f *standaloneFixture) bool { return f.content(filepath.Join(f.out, "f")) != "host\n" }},
		{name: "outcreate", sh: `echo x > "$OUT/g"`, attack: true, effect: func(f *standaloneFixture) bool {
			_, err := os.Stat(filepath.Join(f.out, "g"))
			return err == nil
		}},
		{name: "outchmod", sh: `chmod 600 "$OUT/f"`, attack: true, effect: func(f *standaloneFixture) bool {
			fi, err := os.Stat(filepath.Join(f.out, "f"))
			return err == nil && fi.Mode().Perm() == 0o600
		}},
		{name: "read", sh: `cat "$HOME/.aws/credentials"`, attack: true},
		{name: "touchconfig", sh: `touch -d 2001-01-01 .git/config`, attack: true, effect: func(f *standaloneFixture) bool {
			fi, err := os.Stat(filepath.Join(f.ws, ".git/config"))
			return err == nil && fi.ModTime().Year() == 2001
		}},
		{name: "rmhook", sh: `rm -f .git/hooks/pre-commit.sample`, attack: true, effect: func(f *standaloneFixture) bool { return !f.exists(".git/hooks/pre-commit.sample") }},
		{name: "movegit", sh: `mv .git .g2 && echo x > .g2/hooks/pre-rebase && mv .g2 .git`, attack: true, effect: func(f *standaloneFixture) bool { return f.exists(".git/hooks/pre-rebase") || f.exists(".g2") }},
	}
}

// TestStandaloneFilesystem runs a real process under the computed
// Landlock ruleset and the standalone supervisor, with no bwrap and no
// namespace, as root and as an unprivileged user: the workspace and its
// new directories are writable; the protected paths, a deny_write glob,
// every place outside and a credential's contents are not. The same
// script with nothing in force is the positive control: each attack is
// made and takes effect there.
func TestStandaloneFilesystem(t *testing.T) {
	if landlock.ABI() < 3 {
		sandboxtest.Skip(t, "this kernel has no Landlock ABI 3: the standalone backend cannot run here")
	}
	policy := "[filesystem]\ndeny_write = [\"keys/*.pem\", \"certs/**/*.crt\"]\n"
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		steps := standaloneSteps()
		script := func(f *standaloneFixture) string {
			var b strings.Builder
			b.WriteString("OUT=" + f.out + "\n")
			for _, s := range steps {
				b.WriteString("( " + s.sh + " ) >/dev/null 2>&1; echo \"step:" + s.name + ":$?\"\n")
			}
			b.WriteString("cat \"$HOME/.aws/credentials\" 2>&1\n")
			return b.String()
		}
		status := func(out, name string) string {
			i := strings.Index(out, "step:"+name+":")
			if i < 0 {
				return "missing"
			}
			rest := out[i+len("step:"+name+":"):]
			if j := strings.IndexByte(rest, '\n'); j >= 0 {
				rest = rest[:j]
			}
			return rest
		}

		control := newStandaloneFixture(t, u, policy)
		cout := control.run(t, true, script(control))
		for _, s := range steps {
			if got := status(cout, s.name); got != "0" {
				t.Errorf("positive control: %s (%s) exited %s\n%s", s.name, s.sh, got, cout)
			}
			if s.effect != nil && !s.effect(control) {
				t.Errorf("positive control: %s (%s) left no effect", s.name, s.sh)
			}
		}
		if !strings.Contains(cout, "AKIA-secret") {
			t.Errorf("positive control: the credential was not read:\n%s", cout)
		}

		f := newStandaloneFixture(t, u, policy)
		start := time.Now()
		out := f.run(t, false, script(f))
		t.Logf("standalone run: %v", time.Since(start))
		rest, blocked := standaloneLines(out)
		for _, s := range steps {
			got := status(rest, s.name)
			switch {
			case s.attack && (got == "0" || got == "missing"):
				t.Errorf("%s (%s) was not refused: %s\n%s", s.name, s.sh, got, out)
			case !s.attack && got != "0":
				t.Errorf("%s (%s) failed: %s\n%s", s.name, s.sh, got, out)
			}
			if s.effect != nil && s.effect(f) {
				t.Errorf("%s (%s) took effect", s.name, s.sh)
			}
		}
		if strings.Contains(rest, "AKIA-secret") {
			t.Errorf("the credential was read:\n%s", out)
		}
		for _, want := range []string{".git/hooks/pre-commit", ".vscode", ".git/config", "keys/new.pem", filepath.Join(f.out, "g")} {
			if !strings.Contains(strings.Join(blocked, "\n"), want) {
				t.Errorf("no violation reported for %s: %v", want, blocked)
			}
		}
	})
}

// TestStandaloneLinkedHomeRun: a home named through a link (/home ->
// /var/home) keeps the private temp dir writable and readable and the
// credential unreadable, for a real process under the layers.
func TestStandaloneLinkedHomeRun(t *testing.T) {
	if landlock.ABI() < 3 {
		sandboxtest.Skip(t, "this kernel has no Landlock ABI 3: the standalone backend cannot run here")
	}
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		f := newStandaloneFixture(t, u, "")
		real := f.home + "-real"
		if err := os.Rename(f.home, real); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, f.home); err != nil {
			t.Fatal(err)
		}
		out := f.run(t, false, `echo t > "$TMPDIR/t" && cat "$TMPDIR/t" && echo "tmp:$?"; cat "$HOME/.aws/credentials"; echo "read:$?"`)
		if !strings.Contains(out, "tmp:0") || strings.Contains(out, "AKIA") || strings.Contains(out, "read:0") {
			t.Errorf("with a linked home:\n%s", out)
		}
	})
}
