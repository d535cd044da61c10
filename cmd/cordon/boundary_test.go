//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
// make a placeholder through the link (outside the workspace, as its
// caller) nor let the name be made once the agent replaces the link with
// a directory; the run works and leaves nothing behind.
func TestAttackSymlinkedParent(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		out, out2, out3 := e.outsideDir("outside"), e.outsideDir("outside2"), e.outsideDir("outside3")
		// z/h and .envrc exist, through links: a bind would cover the
		// links' targets and leave the names free.
		os.WriteFile(filepath.Join(out3, "h"), []byte("orig"), 0o644)
		os.WriteFile(filepath.Join(out3, "rc"), []byte("orig"), 0o644)
		e.write(".sandbox.toml", "[filesystem]\ndeny_write = [\"x/f\", \"y/g\", \"z/h\"]\n")
		os.Symlink("../outside", filepath.Join(e.ws, "x"))
		os.Symlink(out2, filepath.Join(e.ws, "y"))
		os.Symlink("../outside3", filepath.Join(e.ws, "z"))
		os.Symlink("../outside3/rc", filepath.Join(e.ws, ".envrc"))
		e.chown()
		r := e.sandboxed(`echo pwn > x/f; echo pwn > y/g; echo pwn > z/h
rm x y z .envrc && mkdir x y z && echo swapped
echo pwn > x/f; echo pwn > y/g; echo pwn > z/h; echo pwn > .envrc; mv /dev/null x/f 2>/dev/null
echo ok > x/ok && echo control-ok`)
		if r.code != 0 || !strings.Contains(r.stdout, "swapped") || !strings.Contains(r.stdout, "control-ok") {
			t.Fatalf("exit %d; the attack did not run:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		e.mustNotExist(filepath.Join(out, "f"), filepath.Join(out2, "g"), filepath.Join(e.ws, "x/f"), filepath.Join(e.ws, "y/g"))
		e.mustNotExist(filepath.Join(e.ws, "z/h"), filepath.Join(e.ws, ".envrc"))
		e.dirHolds(out)
		e.dirHolds(out2)
		e.dirHolds(out3, "h", "rc")
		e.mustHold(filepath.Join(out3, "h"), "orig")
		e.dirHolds(filepath.Join(e.ws, "x"), "ok")
		want := "cordon: blocked write " + filepath.Join(e.ws, "x/f") + " (" + filepath.Join(e.ws, ".sandbox.toml") + ":2)\n"
		if !strings.Contains(r.stderr, want) {
			t.Errorf("no %q in:\n%s", want, r.stderr)
		}
		e.noPlaceholders("x", "y", "z")
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
