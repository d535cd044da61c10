//go:build linux

package landlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"golang.org/x/sys/unix"
)

// The test binary doubles as a restricted program: `__landlock RULES OP
// ARG...` restricts itself with RULES and reports each operation's result.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__landlock" {
		os.Exit(restrictedMain(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

// noCapsVar makes the restricted program drop every capability first.
const noCapsVar = "CORDON_TEST_NOCAPS"

func restrictedMain(rules string, ops []string) int {
	var r Rules
	if err := json.Unmarshal([]byte(rules), &r); err != nil {
		fmt.Println("bad rules:", err)
		return 2
	}
	runtime.LockOSThread()
	if os.Getenv(noCapsVar) != "" {
		// What a backend does before restricting: no capabilities left
		// (root's CAP_SYS_PTRACE would pass Landlock's ptrace rule).
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			fmt.Println("capset:", err)
			return 125
		}
	}
	st, err := Restrict(r)
	if err != nil {
		fmt.Println("restrict:", err)
		return 125
	}
	fmt.Printf("abi %d connect %v scoped %v\n", st.ABI, st.Connect, st.Scoped)
	for _, op := range ops {
		verb, arg, _ := strings.Cut(op, "=")
		var err error
		switch verb {
		case "write":
			err = os.WriteFile(arg, []byte("x"), 0o644)
		case "read":
			_, err = os.ReadFile(arg)
		case "list":
			_, err = os.ReadDir(arg)
		case "connect":
			var c net.Conn
			if c, err = net.Dial("tcp", arg); err == nil {
				c.Close()
			}
		case "signal":
			pid, _ := strconv.Atoi(arg)
			err = syscall.Kill(pid, 0)
			if err == syscall.EPERM {
				err = os.ErrPermission
			}
		case "sock":
			var l net.Listener
			if l, err = net.Listen("unix", arg); err == nil {
				l.Close()
			}
		}
		res := "ok"
		if err != nil {
			res = "denied"
			if !os.IsPermission(err) && !strings.Contains(err.Error(), "permission denied") {
				res = "error " + err.Error()
			}
		}
		fmt.Printf("%s %s\n", op, res)
	}
	return 0
}

func requireLandlock(t *testing.T) int {
	t.Helper()
	abi := ABI()
	if abi < 1 {
		// CI's kernel has Landlock (NOTES: ABI 7); a machine without it
		// cannot test this layer at all.
		sandboxtest.Skip(t, "this kernel has no Landlock")
	}
	return abi
}

type world struct {
	home, work, outside, secret, secretDir string
}

func newWorld(t *testing.T, dir string) world {
	w := world{home: filepath.Join(dir, "home"), work: filepath.Join(dir, "home/src/app"), outside: filepath.Join(dir, "outside")}
	w.secretDir = filepath.Join(w.home, ".aws")
	w.secret = filepath.Join(w.secretDir, "credentials")
	for _, d := range []string{w.work, w.outside, w.secretDir, filepath.Join(w.home, ".config/gh")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(w.secret, []byte("key"), 0o644)
	os.WriteFile(filepath.Join(w.home, ".config/gh/hosts.yml"), []byte("token"), 0o644)
	os.WriteFile(filepath.Join(w.home, ".config/other"), []byte("fine"), 0o644)
	os.WriteFile(filepath.Join(w.home, ".bashrc"), []byte("fine"), 0o644)
	os.WriteFile(filepath.Join(w.outside, "f"), []byte("fine"), 0o644)
	// A link beside the denied directory, into it: reading through it is
	// judged at the target.
	os.Symlink(w.secretDir, filepath.Join(w.home, "aws-link"))
	return w
}

func runRestricted(t *testing.T, asUser *sandboxtest.User, home string, r Rules, ops ...string) map[string]string {
	t.Helper()
	b, _ := json.Marshal(r)
	var cmd *exec.Cmd
	args := append([]string{"__landlock", string(b)}, ops...)
	if asUser != nil {
		cmd = asUser.Command(home, sandboxtest.Executable(t, home), args...)
	} else {
		cmd = exec.Command(os.Args[0], args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restricted program: %v\n%s", err, out)
	}
	got := map[string]string{}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	got["status"] = lines[0]
	for _, l := range lines[1:] {
		op, res, _ := strings.Cut(l, " ")
		got[op] = res
	}
	return got
}

func TestRestrictFilesystem(t *testing.T) {
	abi := requireLandlock(t)
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		dir := sandboxtest.Dir(t, u)
		w := newWorld(t, dir)
		if u != nil {
			sandboxtest.Chown(t, dir, u)
		}
		r := Rules{Writable: []string{w.work}, WriteFiles: []string{"/dev/null"}, ReadDeny: []string{w.secretDir, filepath.Join(w.home, ".config/gh")}}
		got := runRestricted(t, u, w.home, r,
			"write="+filepath.Join(w.work, "new"), "read="+filepath.Join(w.work, "new"),
			"write="+filepath.Join(w.outside, "f"), "write="+filepath.Join(w.outside, "g"), "write=/dev/null",
			"read="+filepath.Join(w.outside, "f"), "read="+w.secret, "read="+filepath.Join(w.home, "aws-link/credentials"),
			"read="+filepath.Join(w.home, ".config/gh/hosts.yml"), "read="+filepath.Join(w.home, ".config/other"),
			"read="+filepath.Join(w.home, ".bashrc"), "list="+w.home, "sock="+filepath.Join(w.work, "s.sock"))
		if want := "abi " + strconv.Itoa(abi); !strings.HasPrefix(got["status"], want) {
			t.Errorf("status %q, want %q", got["status"], want)
		}
		want := map[string]string{
			// Positive controls: the same calls where the rules allow them.
			"write=" + filepath.Join(w.work, "new"): "ok", "read=" + filepath.Join(w.work, "new"): "ok",
			"write=/dev/null": "ok", "read=" + filepath.Join(w.outside, "f"): "ok",
			"read=" + filepath.Join(w.home, ".config/other"): "ok", "read=" + filepath.Join(w.home, ".bashrc"): "ok",
			"list=" + w.home: "ok",
			// The attacks.
			"write=" + filepath.Join(w.outside, "f"): "denied", "write=" + filepath.Join(w.outside, "g"): "denied",
			"read=" + w.secret: "denied", "read=" + filepath.Join(w.home, "aws-link/credentials"): "denied",
			"read=" + filepath.Join(w.home, ".config/gh/hosts.yml"): "denied",
			"sock=" + filepath.Join(w.work, "s.sock"):               "denied",
		}
		for op, res := range want {
			if got[op] != res {
				t.Errorf("%s: %q, want %q", op, got[op], res)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(w.outside, "f")); string(b) != "fine" {
			t.Errorf("the file outside was changed: %q", b)
		}
	})
}

// TestRestrictMasks: a mask is readable under a denied path only while
// the path is the mask's own inode. Here the "mask" of the credentials
// file is that file itself (the positive control: the grant works), and
// the one named for hosts.yml is another file's inode, as when a bind
// is not where the plan put it: hosts.yml stays unreadable.
func TestRestrictMasks(t *testing.T) {
	requireLandlock(t)
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		dir := sandboxtest.Dir(t, u)
		w := newWorld(t, dir)
		if u != nil {
			sandboxtest.Chown(t, dir, u)
		}
		ident := func(p string) (uint64, uint64) {
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			return uint64(st.Dev), st.Ino
		}
		hosts := filepath.Join(w.home, ".config/gh/hosts.yml")
		sd, si := ident(w.secret)
		od, oi := ident(filepath.Join(w.outside, "f"))
		r := Rules{ReadDeny: []string{w.secretDir, filepath.Join(w.home, ".config/gh")},
			Masks: []Mask{{Path: w.secret, Dev: sd, Ino: si}, {Path: hosts, Dev: od, Ino: oi}}}
		got := runRestricted(t, u, w.home, r, "read="+w.secret, "read="+hosts)
		for op, res := range map[string]string{"read=" + w.secret: "ok", "read=" + hosts: "denied"} {
			if got[op] != res {
				t.Errorf("%s: %q, want %q", op, got[op], res)
			}
		}
	})
}

func TestRestrictConnect(t *testing.T) {
	if requireLandlock(t) < 4 {
		sandboxtest.Skip(t, "Landlock ABI < 4 has no TCP rules")
	}
	allowed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer allowed.Close()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	port := uint16(allowed.Addr().(*net.TCPAddr).Port)
	r := Rules{Writable: []string{"/tmp"}, LimitConnect: true, ConnectPorts: []uint16{port}}
	got := runRestricted(t, nil, "", r, "connect="+allowed.Addr().String(), "connect="+other.Addr().String())
	if got["connect="+allowed.Addr().String()] != "ok" || got["connect="+other.Addr().String()] != "denied" {
		t.Fatalf("connect: %v", got)
	}
}

func TestRequireFailsWithoutAnABI(t *testing.T) {
	// The refusal path itself: an unknown-to-the-kernel request fails
	// closed with the reason, never runs with less.
	r := Rules{Require: true, LimitConnect: true, Scope: true}
	if abi := ABI(); abi >= 6 {
		t.Logf("ABI %d supports every rule; checking Validate's refusal instead", abi)
		r.Writable = []string{"relative"}
	}
	b, _ := json.Marshal(r)
	cmd := exec.Command(os.Args[0], "__landlock", string(b))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).ExitStatus() != 125 || !strings.Contains(string(out), "restrict:") {
		t.Fatalf("want a refusal with 125, got %v: %s", err, out)
	}
}

// TestOtherProcessesStayClosed: where no mount namespace hides the host's
// processes, Landlock's ptrace rule still keeps a restricted program out
// of every process outside its domain: their environment and memory in
// /proc, and (scoped) their signals. Its own stay open (positive control).
// The program has no capabilities, as in every sandbox.
func TestOtherProcessesStayClosed(t *testing.T) {
	if requireLandlock(t) < 6 {
		sandboxtest.Skip(t, "Landlock ABI < 6 cannot scope signals")
	}
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		home := sandboxtest.Dir(t, u)
		// The outsider: a process of the same user, started outside.
		outsider := exec.Command("sleep", "60")
		if u != nil {
			outsider.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
		}
		outsider.Env = []string{"OUTSIDER_SECRET=hunter2"}
		if err := outsider.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { outsider.Process.Kill(); outsider.Wait() }()
		pid := strconv.Itoa(outsider.Process.Pid)
		r := Rules{Writable: []string{home}, Scope: true}
		// Measured: root keeping CAP_SYS_PTRACE still reads another
		// process's environ under Landlock; without capabilities (as
		// every sandbox runs) it cannot.
		t.Setenv(noCapsVar, "1")
		got := runRestricted(t, u, home, r, "read=/proc/self/environ", "read=/proc/"+pid+"/environ",
			"read=/proc/"+pid+"/mem", "signal="+pid, "read=/proc/"+pid+"/cmdline")
		want := map[string]string{
			"read=/proc/self/environ": "ok", "read=/proc/" + pid + "/cmdline": "ok",
			"read=/proc/" + pid + "/environ": "denied", "read=/proc/" + pid + "/mem": "denied",
			"signal=" + pid: "denied",
		}
		for op, res := range want {
			if got[op] != res {
				t.Errorf("%s: %q, want %q (%v)", op, got[op], res, got)
			}
		}
	})
}

// asRootAndUser runs f as root (u nil) and as the unprivileged test user.
func asRootAndUser(t *testing.T, f func(t *testing.T, u *sandboxtest.User)) {
	t.Run("root", func(t *testing.T) {
		sandboxtest.RequireRoot(t)
		f(t, nil)
	})
	t.Run("user", func(t *testing.T) { f(t, sandboxtest.Unprivileged(t)) })
}

// TestSplitRulesFollowNoLink: a split rule (the standalone carving) whose
// path is a symbolic link, or goes through one, grants nothing: a link
// swapped in after the plan must not carry the grant to what it names.
// The same rules on the real paths grant the writes (the positive control).
func TestSplitRulesFollowNoLink(t *testing.T) {
	requireLandlock(t)
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		dir := sandboxtest.Dir(t, u)
		w := newWorld(t, dir)
		protected := filepath.Join(w.work, ".git")
		os.MkdirAll(filepath.Join(protected, "hooks"), 0o755)
		os.WriteFile(filepath.Join(protected, "config"), []byte("x"), 0o644)
		os.Symlink(filepath.Join(protected, "hooks"), filepath.Join(w.work, "src"))
		os.Symlink(protected, filepath.Join(w.work, "g"))
		os.Symlink(filepath.Join(protected, "config"), filepath.Join(w.work, "README"))
		if u != nil {
			sandboxtest.Chown(t, dir, u)
		}
		hook, config := filepath.Join(protected, "hooks", "pre-commit"), filepath.Join(protected, "config")
		links := Rules{
			SplitDirs:  []string{filepath.Join(w.work, "src"), filepath.Join(w.work, "g", "hooks")},
			SplitFiles: []string{filepath.Join(w.work, "README")},
			FileZones:  []string{filepath.Join(w.work, "g")},
		}
		got := runRestricted(t, u, w.home, links, "write="+hook, "write="+config)
		for _, op := range []string{"write=" + hook, "write=" + config} {
			if got[op] != "denied" {
				t.Errorf("through a linked rule, %s: %q, want denied", op, got[op])
			}
		}
		real := Rules{SplitDirs: []string{filepath.Join(protected, "hooks")}, SplitFiles: []string{config}}
		got = runRestricted(t, u, w.home, real, "write="+hook, "write="+config)
		for _, op := range []string{"write=" + hook, "write=" + config} {
			if got[op] != "ok" {
				t.Errorf("positive control, %s: %q, want ok", op, got[op])
			}
		}
	})
}
