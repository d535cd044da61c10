//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cordon-dev/cordon/server/control"
	"github.com/cordon-dev/cordon/server/shell"
)

// -c as a shell gives it: exit statuses, signals, $0 and arguments, the
// flags agents pass, and stdin/stdout untouched.
func TestShellCommand(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		for _, c := range []struct {
			args   []string
			code   int
			stdout string
		}{
			{[]string{"-c", "exit 7"}, 7, ""},
			{[]string{"-c", "echo $0 $1 $2", "name", "a", "b"}, 0, "name a b\n"},
			{[]string{"-c", "kill -TERM $$"}, 128 + 15, ""},
			{[]string{"-c", "kill -KILL $$"}, 128 + 9, ""},
			{[]string{"-c", "sh -c 'kill -INT $$'; echo after $?"}, 0, "after 130\n"},
			{[]string{"-ec", "false; echo not reached"}, 1, ""},
			{[]string{"-c", "-l", "shopt -q login_shell && echo login"}, 0, "login\n"}, // Claude Code's form
			{[]string{"-lc", "echo $((6*7))"}, 0, "42\n"},
			{[]string{"-o", "pipefail", "-c", "false | true"}, 1, ""},
		} {
			r := e.cordon("", append([]string{"shell"}, c.args...)...)
			if r.code != c.code || r.stdout != c.stdout {
				t.Errorf("%q: exit %d stdout %q, want %d %q; stderr %s", c.args, r.code, r.stdout, c.code, c.stdout, r.stderr)
			}
		}
		// Bytes pass through as they are.
		in := string(bytes.Repeat([]byte{0, 1, 2, 0xff, '\r', '\n', 0x1b}, 5000))
		if r := e.cordon(in, "shell", "-c", "cat"); r.code != 0 || r.stdout != in {
			t.Errorf("cat: exit %d, %d bytes back of %d", r.code, len(r.stdout), len(in))
		}
		// A script on stdin, as `sh < script`.
		if r := e.cordon("echo from stdin\nexit 3\n", "shell"); r.code != 3 || r.stdout != "from stdin\n" {
			t.Errorf("stdin script: %d %q %s", r.code, r.stdout, r.stderr)
		}
		// The same sandbox: a write outside the workspace is refused and reported.
		r := e.cordon("", "shell", "-c", "echo x > /etc/cordon-shell-probe; echo x > inside; cat inside")
		if r.stdout != "x\n" || !strings.Contains(r.stderr, "cordon: blocked write /etc/cordon-shell-probe (default)") {
			t.Errorf("write: %d %q %q", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat("/etc/cordon-shell-probe"); err == nil {
			t.Fatal("the write outside the workspace landed")
		}
		if r := e.cordon("", "shell", "-Z"); r.code != 2 {
			t.Errorf("bad option: exit %d", r.code)
		}
	})
}

// The control sockets are host-side attack surface: an editor session's
// socket is not visible, let alone reachable, inside any sandbox.
func TestControlSocketHiddenInside(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		rt := filepath.Join(e.home, ".run", "cordon")
		r := e.cordon("", "shell", "-c", "true") // makes the runtime directory, as the user
		if r.code != 0 {
			t.Fatalf("%d %s", r.code, r.stderr)
		}
		sock := control.SocketPath(rt, e.ws)
		// A session's socket, made by the user (it accepts and hangs up).
		cmd := exec.Command("/usr/bin/python3", "-c", `import socket,sys
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); print("up", flush=True)
while True: s.accept()[0].close()`, sock)
		if e.user != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.user.Credential()}
		}
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		if _, err := out.Read(make([]byte, 3)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(sock); err != nil {
			t.Fatalf("positive control: no socket on the host: %v", err)
		}
		r = e.cordon("", "shell", "-c", `ls -A "$1" | grep -c sock; /usr/bin/python3 -c 'import socket,sys
try:
    s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("connected")
except OSError as e:
    print("refused")' "$2"`, "sh", rt, sock)
		if r.stdout != "0\nrefused\n" {
			t.Fatalf("inside the sandbox the control socket is visible or reachable: %q (stderr %s)", r.stdout, r.stderr)
		}
	})
}

// The README's Claude Code set-up, tested in the form Claude Code calls
// its shell (CLAUDE_CODE_SHELL=…/cordon-bash): `SHELL -c -l "source
// SNAPSHOT 2>/dev/null || true && eval 'CMD' < /dev/null && pwd -P >|
// TMPDIR/claude-XXXX-cwd"`, with the user defaults allowing that TMPDIR.
func TestShellClaudeCodeForm(t *testing.T) {
	e := newEnv(t)
	claudeTmp := filepath.Join(e.home, ".local", "share", "claude-tmp")
	if err := os.MkdirAll(claudeTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	defaults := filepath.Join(e.home, ".config", "cordon", "sandbox.toml")
	os.MkdirAll(filepath.Dir(defaults), 0o755)
	if err := os.WriteFile(defaults, []byte("[filesystem]\nallow_write = [\"~/.local/share/claude-tmp\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(e.home, ".claude", "shell-snapshots", "snapshot-bash-1.sh")
	os.MkdirAll(filepath.Dir(snap), 0o755)
	os.WriteFile(snap, []byte("shopt -s expand_aliases\nalias greet='echo hello from the snapshot'\n"), 0o644)
	link := filepath.Join(e.home, "bin", "cordon-bash")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(cordonBin, link); err != nil {
		t.Fatal(err)
	}
	cwdFile := filepath.Join(claudeTmp, "claude-ab12-cwd")
	wrapped := "source " + snap + " 2>/dev/null || true && eval 'greet; echo $CORDON_SANDBOX; touch /etc/cordon-claude-probe' < /dev/null && pwd -P >| " + cwdFile
	cmd := exec.Command(link, "-c", "-l", wrapped)
	cmd.Dir, cmd.Env = e.ws, e.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// touch fails, so eval fails and the epilogue does not run: exit 1, as bash gives it.
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v; stderr %s", err, stderr.String())
	}
	if stdout.String() != "hello from the snapshot\n1\n" || !strings.Contains(stderr.String(), "cordon: blocked write /etc/cordon-claude-probe (default)") {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	// A command that succeeds: the epilogue writes the cwd file Claude Code reads on the host.
	cmd = exec.Command(link, "-c", "-l", "source "+snap+" 2>/dev/null || true && eval 'cd sub 2>/dev/null || mkdir sub && cd sub' < /dev/null && pwd -P >| "+cwdFile)
	cmd.Dir, cmd.Env = e.ws, e.environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if b, err := os.ReadFile(cwdFile); err != nil || string(b) != filepath.Join(e.ws, "sub")+"\n" {
		t.Fatalf("cwd file: %q %v", b, err)
	}
}

// Called by a name that says which shell (a symlink cordon-sh), as agents
// that insist on a shell's name need.
func TestShellAlias(t *testing.T) {
	e := newEnv(t)
	link := filepath.Join(t.TempDir(), "cordon-sh")
	if err := os.Symlink(cordonBin, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "-c", `echo "$0"; readlink /proc/$$/exe`)
	cmd.Dir, cmd.Env = e.ws, e.environ()
	out, err := cmd.Output()
	if err != nil || !strings.HasSuffix(string(out), "\n") || !strings.Contains(string(out), "sh") || strings.Contains(string(out), "bash") {
		t.Fatalf("%s: %q %v", link, out, err)
	}
}

// term is the test's side of a terminal: it holds the master of a pty
// whose slave is cordon's controlling terminal, and records the output.
type term struct {
	t      *testing.T
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	mark   int
}

func (tm *term) read() {
	buf := make([]byte, 4096)
	for {
		n, err := tm.master.Read(buf)
		tm.mu.Lock()
		tm.out.Write(buf[:n])
		tm.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.master.WriteString(s); err != nil {
		tm.t.Fatal(err)
	}
}

// expect waits for s in the output after the last match.
func (tm *term) expect(s string, within time.Duration) time.Duration {
	tm.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		tm.mu.Lock()
		i := strings.Index(tm.out.String()[tm.mark:], s)
		if i >= 0 {
			tm.mark += i + len(s)
		}
		tm.mu.Unlock()
		if i >= 0 {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.t.Fatalf("no %q within %s; output after the last match:\n%q", s, within, tm.out.String()[tm.mark:])
	return 0
}

// An interactive sandboxed shell driven through a pty: a prompt, job
// control, ^C, window size, a TIOCSTI that reaches only its own terminal,
// and exit.
func TestShellInteractive(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		p, err := shell.OpenPTY()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Master.Close()
		if err := unix.IoctlSetWinsize(int(p.Master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
			t.Fatal(err)
		}
		if e.user != nil {
			if err := os.Chown(p.Slave.Name(), int(e.user.UID), -1); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(cordonBin, "shell", "--norc", "-i")
		cmd.Dir = e.ws
		cmd.Env = append(e.environ(), "PS1=cordon$ ", "TERM=dumb", "CORDON_SHELL=/bin/bash")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Slave, p.Slave, p.Slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if e.user != nil {
			cmd.SysProcAttr.Credential = e.user.Credential()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		p.Slave.Close()
		tm := &term{t: t, master: p.Master}
		go tm.read()

		tm.expect("cordon$ ", 10*time.Second)
		tm.send("echo $((6*7)) in $PWD\r")
		tm.expect("42 in "+e.ws, 5*time.Second)
		tm.expect("cordon$ ", 5*time.Second)

		// Job control: a background job, brought back, interrupted.
		tm.send("sleep 30 &\r")
		tm.expect("[1] ", 5*time.Second)
		tm.expect("cordon$ ", 5*time.Second)
		tm.send("jobs\r")
		tm.expect("Running", 5*time.Second)
		tm.send("fg\r")
		tm.expect("sleep 30", 5*time.Second)
		time.Sleep(200 * time.Millisecond)
		tm.send("\x03")
		if d := tm.expect("cordon$ ", 10*time.Second); d > 8*time.Second {
			t.Fatalf("^C took %s", d)
		}
		tm.send("echo status=$?\r")
		tm.expect("status=130", 5*time.Second)
		// ^Z stops a foreground job, bg resumes it.
		tm.send("sleep 30\r")
		time.Sleep(300 * time.Millisecond)
		tm.send("\x1a")
		tm.expect("Stopped", 5*time.Second)
		tm.send("kill %1; wait; echo killed\r")
		tm.expect("killed", 5*time.Second)

		// The window size follows the caller's.
		tm.send("stty size\r")
		tm.expect("24 80", 5*time.Second)
		if err := unix.IoctlSetWinsize(int(p.Master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 41, Col: 123}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		tm.send("stty size\r")
		tm.expect("41 123", 5*time.Second)

		// The shell's terminal is the run's own pty, not the caller's:
		// TIOCSTI into it (positive control: the pushed command runs)
		// types into the sandboxed shell only.
		var st unix.Stat_t
		if err := unix.Stat(p.Slave.Name(), &st); err != nil {
			t.Fatal(err)
		}
		outer := fmt.Sprintf("%x:%x", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		tm.send("stat -L -c 'dev=%t:%T' /proc/self/fd/0\r")
		tm.expect("dev=", 5*time.Second)
		tm.mu.Lock()
		rest := tm.out.String()[tm.mark:]
		tm.mu.Unlock()
		if strings.HasPrefix(rest, outer+"\r") || strings.HasPrefix(rest, outer+"\n") {
			t.Fatalf("the sandboxed shell's terminal is the caller's (%s)", outer)
		}
		tm.send(`python3 -c 'import fcntl,termios
for c in b"echo INJ$((40+2))\n": fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))'` + "\r")
		tm.expect("INJ42", 10*time.Second)

		// Writes outside the workspace are refused here too.
		tm.send("touch /etc/cordon-pty-probe; echo rc=$?\r")
		tm.expect("rc=1", 5*time.Second)

		tm.send("exit 5\r")
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 5 {
				t.Fatalf("exit: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("cordon shell did not end after exit")
		}
		tm.expect("cordon: blocked write /etc/cordon-pty-probe (default)", 5*time.Second)
		if _, err := os.Stat("/etc/cordon-pty-probe"); err == nil {
			t.Fatal("the write landed")
		}
	})
}
