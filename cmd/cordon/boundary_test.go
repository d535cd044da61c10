//go:build linux

package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// The tests here attack what cordon does on the host for a run (its
// placeholders, pins, state and config directories, scan cache, the
// guard's renames), as a hostile repository or a prompt-injected agent
// would, through the real binary, as root and as an unprivileged user.
// Each has a positive control: what the attack needs to do works, so a
// refusal is the protection's and not an accident.

// outsideDir makes a directory beside the workspace (so outside every
// writable place) that the env's user owns: were cordon to create a
// placeholder through a link into it, it could.
func (e *env) outsideDir(name string) string {
	e.t.Helper()
	d := filepath.Join(filepath.Dir(e.ws), name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if e.user != nil {
		os.Chown(d, e.user.UID, e.user.GID)
	}
	return d
}

// reported says whether stderr holds the violation line want (without
// its newline), once or with a count (", N times").
func reported(stderr, want string) bool {
	return strings.Contains(stderr, want+"\n") || regexp.MustCompile(regexp.QuoteMeta(want)+`, [0-9]+ times\n`).MatchString(stderr)
}

func (e *env) dirHolds(dir string, names ...string) {
	e.t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		e.t.Errorf("%s: %v", dir, err)
		return
	}
	var got []string
	for _, ent := range ents {
		got = append(got, ent.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		e.t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

// TestAttackSymlinkedParent: a repository ships x -> ../outside (and an
// absolute link y) with deny_write rules below them. cordon must neither
// make anything through the link (outside the workspace, as its caller)
// nor let the name be made, through the link or once the agent replaces
// the link with a directory; the run works and leaves nothing behind.
func TestAttackSymlinkedParent(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		out, out2, out3 := e.outsideDir("outside"), e.outsideDir("outside2"), e.outsideDir("outside3")
		// z/h and .envrc exist, through links: a bind would cover the
		// links' targets and leave the names free.
		os.WriteFile(filepath.Join(out3, "h"), []byte("orig"), 0o644)
		os.WriteFile(filepath.Join(out3, "rc"), []byte("orig"), 0o644)
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"x/f\", \"y/g\", \"z/h\", \"w/k\"]\n")
		// w -> wreal stays inside the workspace: the missing w/k is wreal/k
		// to the guard, which judges names by their real paths.
		os.MkdirAll(filepath.Join(e.ws, "wreal"), 0o755)
		os.Symlink("wreal", filepath.Join(e.ws, "w"))
		os.Symlink("../outside", filepath.Join(e.ws, "x"))
		os.Symlink(out2, filepath.Join(e.ws, "y"))
		os.Symlink("../outside3", filepath.Join(e.ws, "z"))
		os.Symlink("../outside3/rc", filepath.Join(e.ws, ".envrc"))
		e.chown()
		r := e.sandboxed(`echo pwn > x/f; echo pwn > y/g; echo pwn > z/h; echo pwn > w/k; echo pwn > wreal/k; echo ok > w/ok
rm x y z .envrc && mkdir x y z && echo swapped
echo pwn > x/f; echo pwn > y/g; echo pwn > z/h; echo pwn > .envrc; mv /dev/null x/f 2>/dev/null
echo ok > x/ok && echo control-ok`)
		if r.code != 0 || !strings.Contains(r.stdout, "swapped") || !strings.Contains(r.stdout, "control-ok") {
			t.Fatalf("exit %d; the attack did not run:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		e.mustNotExist(filepath.Join(out, "f"), filepath.Join(out2, "g"), filepath.Join(e.ws, "x/f"), filepath.Join(e.ws, "y/g"))
		e.mustNotExist(filepath.Join(e.ws, "z/h"), filepath.Join(e.ws, ".envrc"), filepath.Join(e.ws, "wreal/k"))
		e.dirHolds(filepath.Join(e.ws, "wreal"), "ok")
		e.dirHolds(out)
		e.dirHolds(out2)
		e.dirHolds(out3, "h", "rc")
		e.mustHold(filepath.Join(out3, "h"), "orig")
		e.dirHolds(filepath.Join(e.ws, "x"), "ok")
		want := "cordon: blocked write " + filepath.Join(e.ws, "x/f") + " (" + filepath.Join(e.ws, ".sandbox.toml") + ":2)"
		if !reported(r.stderr, want) {
			t.Errorf("no %q in:\n%s", want, r.stderr)
		}
		e.noPlaceholders("x", "y", "z", "w", "wreal")
	})
}

// TestAttackPlantedLink: the agent plants the link itself in one run,
// for the next run's placeholder to go through it.
func TestAttackPlantedLink(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		out := e.outsideDir("outside")
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"d/f\"]\n")
		if r := e.sandboxed(`ln -s ../outside d && echo planted`); !strings.Contains(r.stdout, "planted") {
			t.Fatalf("could not plant the link: %s", r.stderr)
		}
		r := e.sandboxed(`echo pwn > d/f; rm d && mkdir d && echo pwn > d/f; echo ok > d/ok && echo control-ok`)
		if r.code != 0 || !strings.Contains(r.stdout, "control-ok") {
			t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		e.dirHolds(out)
		e.dirHolds(filepath.Join(e.ws, "d"), "ok")
	})
}

// TestAttackLinkFlippedDuringRuns: one run flips a name between a link
// out of the workspace, a directory and nothing, as fast as it can, while
// other runs of the workspace start and make their placeholders. Nothing
// lands outside, and nothing is left behind once every run has ended.
func TestAttackLinkFlippedDuringRuns(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		out := e.outsideDir("outside")
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"x/f\"]\n")
		flipper := make(chan result, 1)
		go func() {
			flipper <- e.sandboxed(`end=$(($(date +%s) + 3)); n=0
while [ $(date +%s) -lt $end ]; do ln -s ../outside x 2>/dev/null; rm -f x; mkdir x 2>/dev/null; rmdir x 2>/dev/null; n=$((n+1)); done
echo flips=$n`)
		}()
		for i := 0; i < 6; i++ {
			if r := e.sandboxed(`echo pwn > x/f 2>/dev/null; echo ran`); !strings.Contains(r.stdout, "ran") && r.code != 125 {
				t.Errorf("run %d: exit %d %s", i, r.code, r.stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r := <-flipper; !strings.Contains(r.stdout, "flips=") {
			t.Fatalf("the flipper did not run: %s", r.stderr)
		}
		e.dirHolds(out)
		e.mustNotExist(filepath.Join(e.ws, "x/f"))
		e.noPlaceholders("x")
	})
}

// TestAttackSetIDThroughGuard: with a guarded rule the guard makes every
// new name itself; none it makes carries setuid or setgid bits, whatever
// mode the caller asks for (seccomp may refuse such a call before it
// reaches the guard: then the name does not exist at all).
func TestAttackSetIDThroughGuard(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"*.pem\"]\n")
		r := e.sandboxed(`umask 022; python3 -c '
import os, stat
for name, make in [("su", lambda: os.close(os.open("su", os.O_CREAT | os.O_WRONLY, 0o6777))),
                   ("sg", lambda: os.mkdir("sg", 0o2777)),
                   ("fifo", lambda: os.mknod("fifo", stat.S_IFIFO | 0o6666)),
                   ("plain", lambda: os.close(os.open("plain", os.O_CREAT | os.O_WRONLY, 0o1777)))]:
    try:
        make()
    except OSError as err:
        print(name, "refused", err)
print("tried")'`)
		if !strings.Contains(r.stdout, "tried") {
			t.Fatalf("the attack did not run: %s %s", r.stdout, r.stderr)
		}
		fi, err := os.Lstat(filepath.Join(e.ws, "plain"))
		if err != nil || fi.Mode()&os.ModePerm != 0o755 || fi.Mode()&os.ModeSticky == 0 {
			t.Fatalf("control: a name made with mode 01777 under umask 022: %v %v", fi, err)
		}
		for _, name := range []string{"su", "sg", "fifo"} {
			if fi, err := os.Lstat(filepath.Join(e.ws, name)); err == nil && fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
				t.Errorf("%s made with mode %v", name, fi.Mode())
			}
		}
	})
}

func (e *env) trust() {
	e.t.Helper()
	if r := e.cordon("", "trust", "-w", e.ws); r.code != 0 {
		e.t.Fatalf("trust: exit %d %s", r.code, r.stderr)
	}
}

func (e *env) homeFile(rel, content string) string {
	e.t.Helper()
	p := filepath.Join(e.home, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.chown()
	return p
}

// TestAttackHomeAncestors: with a trusted allow_write = ["~"], the agent
// renames and removes every ancestor of a hidden credential and of
// cordon's own state and config, and tries to make the user defaults
// file. None of it works; writing elsewhere in ~ does; and the next run
// still hides the credential.
func TestAttackHomeAncestors(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		docker := e.homeFile(".docker/config.json", "s3cret-docker")
		gcloud := e.homeFile(".config/gcloud/creds", "s3cret-gcloud")
		e.write(".sandbox.toml", "[filesystem]\nallow_write = [\"~\"]\n")
		e.trust() // makes ~/.local/state/cordon/trust.json
		state := filepath.Join(e.home, ".local/state/cordon")
		r := e.sandboxed(`cd "$HOME"
mv .docker .d2; cat .d2/config.json .docker/config.json
mv .config .c2; mv .config/gcloud .config/g2; cat .c2/gcloud/creds
mv .local .l2; mv .local/state .local/s2; mv .local/state/cordon .local/state/c2; rm -rf .local/state/cordon
mkdir -p .config/cordon; printf '[network]\nallow = ["evil.example"]\n' > .config/cordon/sandbox.toml
mkdir -p /tmp/evil/cordon && mv /tmp/evil/cordon .config/cordon
echo ok > control && mkdir -p newdir/sub && mv newdir newdir2 && echo control-ok`)
		if !strings.Contains(r.stdout, "control-ok") {
			t.Fatalf("~ is not writable: the attack did not run (exit %d):\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "s3cret") {
			t.Errorf("a hidden credential was read:\n%s", r.stdout)
		}
		e.mustHold(docker, "s3cret-docker")
		e.mustHold(gcloud, "s3cret-gcloud")
		e.mustNotExist(filepath.Join(e.home, ".d2"), filepath.Join(e.home, ".c2"), filepath.Join(e.home, ".l2"),
			filepath.Join(e.home, ".local/s2"), filepath.Join(state, "../c2"), filepath.Join(e.home, ".config/cordon"))
		if _, err := os.Stat(filepath.Join(state, "trust.json")); err != nil {
			t.Errorf("the trust store is gone: %v", err)
		}
		r = e.sandboxed(`cat "$HOME/.d2/config.json" "$HOME/.docker/config.json" "$HOME/.l2/state/cordon/trust.json"; echo second-ran`)
		if strings.Contains(r.stdout, "s3cret") || !strings.Contains(r.stdout, "second-ran") {
			t.Errorf("second run:\n%s", r.stdout)
		}
	})
}

// TestAttackWorkspaceAncestors: a directory holding a deny_read file is
// renamed in one run for the next to read it under its new name.
func TestAttackWorkspaceAncestors(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_read = [\"sub/deeper/secret.txt\", \"top/secret.txt\"]\n")
		secret := e.write("sub/deeper/secret.txt", "s3cret")
		e.write("top/secret.txt", "s3cret")
		r := e.sandboxed(`mv sub moved; mv sub/deeper sub/d2; mv top top2; rm -rf sub top
mkdir other && echo x > other/f && mv other other2 && echo control-ok`)
		if !strings.Contains(r.stdout, "control-ok") {
			t.Fatalf("control failed: %s", r.stderr)
		}
		r = e.sandboxed(`cat moved/deeper/secret.txt sub/d2/secret.txt top2/secret.txt sub/deeper/secret.txt top/secret.txt`)
		if strings.Contains(r.stdout, "s3cret") {
			t.Errorf("read a denied file after renaming its parent:\n%s", r.stdout)
		}
		e.mustHold(secret, "s3cret")
		e.mustNotExist(filepath.Join(e.ws, "moved"), filepath.Join(e.ws, "sub/d2"), filepath.Join(e.ws, "top2"))
	})
}

// TestAttackDenyReadNotYetThere: a deny_read path that does not exist yet
// cannot be made from inside (not by name, nor by a rename); made on the
// host later, it is unreadable.
func TestAttackDenyReadNotYetThere(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		// future.txt (no slash) holds at any depth, docs/notyet.txt is
		// anchored: a glob and a literal path, both missing.
		e.write(".sandbox.toml", "[filesystem]\ndeny_read = [\"future.txt\", \"docs/notyet.txt\", \"later/**\"]\n")
		e.write("docs/readme", "")
		r := e.sandboxed(`echo mine > future.txt; mkdir later; echo x > tmpf && mv tmpf future.txt; ln -s /etc/hostname future.txt
echo mine > docs/notyet.txt; echo x > tmpf && mv tmpf docs/notyet.txt
echo ok > other.txt && echo ok > docs/other.txt && echo control-ok`)
		if !strings.Contains(r.stdout, "control-ok") {
			t.Fatalf("control failed: %s", r.stderr)
		}
		e.mustNotExist(filepath.Join(e.ws, "future.txt"), filepath.Join(e.ws, "later"), filepath.Join(e.ws, "docs/notyet.txt"))
		e.write("future.txt", "s3cret")
		e.write("docs/notyet.txt", "s3cret")
		e.write("later/x", "s3cret")
		r = e.sandboxed(`cat future.txt docs/notyet.txt later/x; echo ran`)
		if strings.Contains(r.stdout, "s3cret") || !strings.Contains(r.stdout, "ran") {
			t.Errorf("read a deny_read file made on the host:\n%s", r.stdout)
		}
	})
}

// TestStateDirNotOurs: cordon refuses a state directory or audit log
// that is a symbolic link or not its own, rather than append to whatever
// it points at.
func TestStateDirNotOurs(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		if r := e.sandboxed(`echo ran`); r.code != 0 {
			t.Fatalf("control run: exit %d %s", r.code, r.stderr)
		}
		state := filepath.Join(e.home, ".local/state/cordon")
		if _, err := os.Stat(filepath.Join(state, "audit.log")); err != nil {
			t.Fatalf("control: no audit log: %v", err)
		}
		victim := e.homeFile("victim", "orig")
		os.Remove(filepath.Join(state, "audit.log"))
		os.Symlink(victim, filepath.Join(state, "audit.log"))
		if r := e.sandboxed(`echo ran`); r.code != exitSetup || strings.Contains(r.stdout, "ran") {
			t.Errorf("an audit log planted as a link: exit %d %s", r.code, r.stderr)
		}
		e.mustHold(victim, "orig")
		os.Remove(filepath.Join(state, "audit.log"))
		os.Chmod(state, 0o777)
		if r := e.sandboxed(`echo ran`); r.code != exitSetup || strings.Contains(r.stdout, "ran") {
			t.Errorf("a state dir anyone can write: exit %d %s", r.code, r.stderr)
		}
	})
}

// TestAttackForgedScanStamp: a long-lived run sets a scanned directory's
// mtime back after the user adds conf/new.key on the host, so that the
// next run's scan cache looks valid and the new key is not hidden.
func TestAttackForgedScanStamp(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_read = [\"conf/*.key\"]\n")
		e.write("conf/old.key", "s3cret-old")
		// With every protected name present, a run makes no placeholder
		// at the root, and so leaves the root's own stamp as it was.
		for _, name := range workspace.ProtectedNames() {
			if strings.HasPrefix(name, ".git/") || name == ".sandbox.toml" {
				continue
			}
			if strings.HasSuffix(name, "/") {
				os.Mkdir(filepath.Join(e.ws, name), 0o755)
			} else {
				e.write(name, "")
			}
		}
		e.chown()
		cmd := exec.Command(cordonBin, "run", "-c", `ref=$(mktemp) && touch -r conf "$ref" && echo armed
read -r _ && touch -r "$ref" conf && echo forged`)
		cmd.Dir, cmd.Env = e.ws, e.environ()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if e.user != nil {
			cmd.SysProcAttr.Credential = e.user.Credential()
		}
		stdin, _ := cmd.StdinPipe()
		var errb strings.Builder
		cmd.Stderr = &errb
		pr, pw, _ := os.Pipe()
		cmd.Stdout = pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		line := make([]byte, 6)
		if n, _ := io.ReadFull(pr, line); string(line[:n]) != "armed\n" {
			t.Fatalf("the long run did not start: %q %s", line[:n], errb.String())
		}
		conf := filepath.Join(e.ws, "conf")
		before, _ := os.Stat(conf)
		e.write("conf/new.key", "s3cret-new")
		stdin.Write([]byte("go\n"))
		stdin.Close()
		rest, _ := io.ReadAll(pr)
		cmd.Wait()
		after, _ := os.Stat(conf)
		if !strings.Contains(string(rest), "forged") || !after.ModTime().Equal(before.ModTime()) {
			t.Fatalf("control: the mtime was not set back (%v, was %v): %s %s", after.ModTime(), before.ModTime(), rest, errb.String())
		}
		r := e.sandboxed(`cat conf/new.key conf/old.key; echo ran`)
		if strings.Contains(r.stdout, "s3cret") || !strings.Contains(r.stdout, "ran") {
			t.Errorf("a key added under a forged mtime was readable:\n%s", r.stdout)
		}
	})
}

// TestAttackRenameIntoGuarded: a directory made under an innocent name,
// holding a denied name at some depth, is renamed (or exchanged) into the
// guarded place.
func TestAttackRenameIntoGuarded(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"certs/*.pem\", \"keys/**/*.pem\"]\n")
		r := e.sandboxed(probeBin + ` race_rename
mkdir inn && echo k > inn/a.pem && mv inn certs
mkdir -p deep/x/certs && echo k > deep/x/certs/b.pem && mv deep/x/certs certs
mkdir -p kk/sub && echo k > kk/sub/c.pem && mkdir keys && mv kk keys/new
mkdir certs && mkdir other && echo k > other/x.pem && python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for a, b in [(b"certs", b"other"), (b"other", b"certs")]:
    r = libc.renameat2(-100, a, -100, b, 2)
    print("exchange", r, os.strerror(ctypes.get_errno()))'
mv inn inn2 && echo moved-elsewhere
mkdir ok && echo k > ok/a.txt && mv ok certs/ok && echo control-ok`)
		if !strings.Contains(r.stdout, "control-ok") || !strings.Contains(r.stdout, "moved-elsewhere") || strings.Count(r.stdout, "exchange -1") != 2 {
			t.Fatalf("the attack did not run as planned:\n%s\n%s", r.stdout, r.stderr)
		}
		// The race: a name made below a directory while the guard moves it.
		if m := regexp.MustCompile(`refused: never landed \(moved (\d+), made (\d+)\)`).FindStringSubmatch(r.stdout); m == nil || m[1] == "0" || m[2] == "0" {
			t.Errorf("race_rename: want it refused with both sides run:\n%s", r.stdout)
		}
		e.mustNotExist(filepath.Join(e.ws, "certs/a.pem"), filepath.Join(e.ws, "certs/b.pem"), filepath.Join(e.ws, "certs/x.pem"),
			filepath.Join(e.ws, "keys/new"))
		e.mustHold(filepath.Join(e.ws, "certs/ok/a.txt"), "k\n")
		e.mustHold(filepath.Join(e.ws, "inn2/a.pem"), "k\n")
		e.mustHold(filepath.Join(e.ws, "other/x.pem"), "k\n")
		rule := " (" + filepath.Join(e.ws, ".sandbox.toml") + ":2)"
		for _, name := range []string{"certs/a.pem", "keys/new/sub/c.pem", "certs/x.pem"} {
			if want := "cordon: blocked write " + filepath.Join(e.ws, name) + rule; !reported(r.stderr, want) {
				t.Errorf("no %q in:\n%s", want, r.stderr)
			}
		}
	})
}

// TestPatternsAtAnyDepth: a pattern with no slash holds at any depth (as
// in .gitignore), for names that exist and names made during the run; one
// with a slash is anchored at the workspace root.
func TestPatternsAtAnyDepth(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"*.pem\", \"config/prod.env\"]\ndeny_read = [\"*.key\"]\n")
		old := e.write("keys/deep/old.pem", "orig")
		e.write("keys/deep/id.key", "s3cret")
		e.write("sub/config/prod.env", "orig")
		r := e.sandboxed(`echo pwn > keys/deep/old.pem; echo pwn > keys/new.pem; mkdir -p a/b && echo pwn > a/b/c.pem
cat keys/deep/id.key; echo pwn > a/b/new.key
echo mine > sub/config/prod.env && echo anchored-ok`)
		if !strings.Contains(r.stdout, "anchored-ok") {
			t.Fatalf("a pattern with a slash matched below the root: %s", r.stderr)
		}
		if strings.Contains(r.stdout, "s3cret") {
			t.Errorf("*.key at depth was readable:\n%s", r.stdout)
		}
		e.mustHold(old, "orig")
		e.mustNotExist(filepath.Join(e.ws, "keys/new.pem"), filepath.Join(e.ws, "a/b/c.pem"), filepath.Join(e.ws, "a/b/new.key"))
		e.mustHold(filepath.Join(e.ws, "sub/config/prod.env"), "mine\n")
		r = e.cordon("", "explain", "-w", e.ws)
		if !strings.Contains(r.stdout, filepath.Join(e.ws, "**/*.pem")) || !strings.Contains(r.stdout, "any depth, as in .gitignore") {
			t.Errorf("explain does not say *.pem holds at any depth:\n%s", r.stdout)
		}
	})
}

// TestGuardedCallsRunOnce: a call the guard performs for the caller is
// performed once, however often the caller is signalled while it waits
// (Go programs are, all the time): a restart after the guard made a name
// must not make it again and answer "exists".
func TestGuardedCallsRunOnce(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		r := e.sandboxed(probeBin + " signal_mkdir")
		m := regexp.MustCompile(`refused: made 2000 names, signalled (\d+) times, none twice`).FindStringSubmatch(r.stdout)
		if m == nil || m[1] == "0" {
			t.Fatalf("want every mkdir answered once, with signals sent:\n%s\n%s", r.stdout, r.stderr)
		}
	})
}

// TestGuardedOpensGetTheirFile: eight threads making files at once each
// get a descriptor of the file they made, while cordon's own threads are
// signalled all along (the Go runtime signals its threads to preempt
// them): a supervisor whose answer a signal can cut short hands the
// caller descriptor 0, its standard input.
func TestGuardedOpensGetTheirFile(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		done := make(chan struct{})
		sent := make(chan int)
		go func() { sent <- signalCordons(done) }()
		r := e.sandboxed(probeBin + " concurrent_create")
		close(done)
		n := <-sent
		if !strings.Contains(r.stdout, "refused: every open gave its own file (4000 made)") {
			t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if n == 0 {
			t.Errorf("control: no signal reached cordon's threads")
		}
	})
}

// signalCordons sends SIGURG (which the Go runtime takes as a request to
// preempt, and otherwise ignores) to every thread of every cordon test
// binary until done, and returns how many it sent.
func signalCordons(done <-chan struct{}) int {
	n := 0
	for {
		select {
		case <-done:
			return n
		default:
		}
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil {
				continue
			}
			if exe, _ := os.Readlink("/proc/" + p.Name() + "/exe"); exe != cordonBin {
				continue
			}
			tasks, _ := os.ReadDir("/proc/" + p.Name() + "/task")
			for _, task := range tasks {
				if tid, err := strconv.Atoi(task.Name()); err == nil && unix.Tgkill(pid, tid, unix.SIGURG) == nil {
					n++
				}
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
}
