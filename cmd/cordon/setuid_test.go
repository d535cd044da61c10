//go:build linux

package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// setuidScript tries every way a command has to leave a setuid or setgid
// file, or one with file capabilities, behind on the host; each line
// prints NAME=RESULT. The plain forms are the positive controls: the same
// call without the bits works.
const setuidScript = `cp /bin/sh sh-copy
chmod 4755 sh-copy; echo "chmod4755=$?"
chmod u+s sh-copy; echo "chmod-u+s=$?"
chmod g+s sh-copy; echo "chmod-g+s=$?"
chmod 0700 sh-copy; echo "chmod-plain=$?"
install -m 4755 /bin/sh inst; echo "install4755=$?"
install -m 0755 /bin/sh inst-plain; echo "install-plain=$?"
mkdir -m 2755 sgid-dir; echo "mkdir2755=$?"
mkfifo -m 4777 suid-fifo; echo "mkfifo4777=$?"
ln /usr/bin/su su-link; echo "hardlink-su=$?"
python3 - <<'PY'
` + pyTry + `
import os, stat, struct
t("open6777", lambda: os.close(os.open("o-suid", os.O_CREAT | os.O_WRONLY, 0o6777)))
t("open-plain", lambda: os.close(os.open("o-plain", os.O_CREAT | os.O_WRONLY, 0o777)))
t("tmpfile4777", lambda: os.close(os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o4777)))
t("mknod4777", lambda: os.mknod("n-suid", stat.S_IFIFO | 0o4777))
t("mknod-plain", lambda: os.mknod("n-plain", stat.S_IFIFO | 0o644))
t("mkdir6777", lambda: os.mkdir("d-suid", 0o6777))
t("mkdir-plain", lambda: os.mkdir("d-plain", 0o755))
t("fchmod6755", lambda: os.chmod(os.open("o-plain", os.O_RDONLY), 0o6755))
# security.capability v2: cap_setuid permitted and effective.
t("setcap", lambda: os.setxattr("sh-copy", "security.capability", struct.pack("<5I", 0x02000001, 1 << 7, 0, 0, 0)))
PY
command -v setcap >/dev/null && { setcap cap_setuid+ep sh-copy; echo "setcap-tool=$?"; }`

// pyTry is the Python prelude of the attack scripts: t(NAME, f) calls f
// and prints NAME=ok, or NAME= and the errno's name.
const pyTry = `import errno
def t(name, f):
    try:
        f()
        print(name + "=ok")
    except OSError as e:
        print(name + "=" + errno.errorcode[e.errno])`

// results reads the NAME=RESULT lines of an attack script's output.
func results(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestAttackSetuidFiles: no file made or changed inside carries S_ISUID or
// S_ISGID, or file capabilities, whoever runs cordon, with and without a
// guarded deny_write rule (the guard makes new names itself).
func TestAttackSetuidFiles(t *testing.T) {
	for _, policy := range []string{"", "[filesystem]\ndeny_write = [\"*.pem\"]\n"} {
		name := "plain"
		if policy != "" {
			name = "guarded"
		}
		t.Run(name, func(t *testing.T) {
			asBoth(t, func(t *testing.T, e *env) {
				if policy != "" {
					e.write(".sandbox.toml", policy)
				}
				r := e.sandboxed(setuidScript)
				got := results(r.stdout)
				for k, want := range map[string]string{
					"chmod-plain": "0", "install-plain": "0", "open-plain": "ok", "mknod-plain": "ok", "mkdir-plain": "ok",
					"open6777": "EPERM", "tmpfile4777": "EPERM", "mknod4777": "EPERM", "mkdir6777": "EPERM", "fchmod6755": "EPERM",
					"setcap": "EPERM",
				} {
					if got[k] != want {
						t.Errorf("%s = %q, want %q", k, got[k], want)
					}
				}
				for _, k := range []string{"chmod4755", "chmod-u+s", "chmod-g+s", "install4755", "mkdir2755", "mkfifo4777", "setcap-tool", "hardlink-su"} {
					if v, ok := got[k]; ok && v == "0" {
						t.Errorf("%s succeeded", k)
					}
				}
				if len(got) < 19 {
					t.Errorf("the script did not run through:\n%s\n%s", r.stdout, r.stderr)
				}
				e.noSetuid()
				if e.user == nil && os.Geteuid() == 0 {
					e.hostSetcapControl()
				}
				for _, f := range []string{"sh-copy", "inst-plain", "o-plain", "n-plain", "d-plain"} {
					if _, err := os.Lstat(filepath.Join(e.ws, f)); err != nil {
						t.Errorf("positive control %s: %v", f, err)
					}
				}
			})
		})
	}
}

// hostSetcapControl sets the script's capability attribute on a file on
// the host, as root: the value is valid and the file system keeps it, so
// EPERM inside is the sandbox's doing.
func (e *env) hostSetcapControl() {
	e.t.Helper()
	f := filepath.Join(e.home, "cap-control")
	if err := os.WriteFile(f, []byte("x"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	defer os.Remove(f)
	out, err := exec.Command("python3", "-c", `import os, struct, sys
os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 7, 0, 0, 0))`, f).CombinedOutput()
	if err != nil {
		e.t.Fatalf("setting file capabilities on the host as root fails too (no positive control): %v %s", err, out)
	}
	if _, err := unix.Lgetxattr(f, "security.capability", make([]byte, 64)); err != nil {
		e.t.Fatalf("the host file system kept no capability attribute: %v", err)
	}
	// A hard link keeps a setuid binary reachable after an update replaced
	// it; on the host, root can make one next to the workspace.
	link := filepath.Join(e.home, "su-control")
	if err := os.Link("/usr/bin/su", link); err != nil {
		// The mutation gate's isolation (testdata/scripts/mutate/isolate.sh)
		// makes /usr an overlay of its own: no link crosses into it there,
		// inside or out. Anywhere else a refusal is a missing control.
		if errors.Is(err, unix.EXDEV) && os.Getenv("CORDON_MUTATE_ISOLATED") == "1" {
			e.t.Logf("LOUD: no hard-link control under the mutation gate's isolation (/usr is an overlay there): %v", err)
			return
		}
		e.t.Fatalf("hard-linking su on the host fails too (no positive control): %v", err)
	}
	os.Remove(link)
}

// noSetuid fails for any file in the workspace with S_ISUID, S_ISGID or a
// security.capability attribute.
func (e *env) noSetuid() {
	e.t.Helper()
	filepath.WalkDir(e.ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err == nil && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			e.t.Errorf("%s is %v on the host", p, fi.Mode())
		}
		if n, err := unix.Lgetxattr(p, "security.capability", make([]byte, 64)); err == nil {
			e.t.Errorf("%s carries file capabilities (%d bytes)", p, n)
		}
		return nil
	})
}
