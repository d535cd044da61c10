package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// hostEnvAttack is an environment that runs code in, or makes a file from,
// any dynamically linked program that starts with it: each variable names
// a file in marks, a directory the sandbox cannot write, so a file there
// can only come from a process outside the sandbox. glibc ships
// libpcprofile.so, whose constructor creates $PCPROFILE_OUTPUT: preloaded
// or loaded as an audit module, it proves code ran, with no compiler.
type hostEnvAttack struct {
	name string
	vars map[string]string
	seen string // the variable the command prints (positive control)
}

func hostEnvAttacks(t *testing.T, marks string) []hostEnvAttack {
	t.Helper()
	libs, _ := filepath.Glob("/lib/*/libpcprofile.so")
	if more, _ := filepath.Glob("/usr/lib/*/libpcprofile.so"); len(libs) == 0 {
		libs = more
	}
	if len(libs) == 0 {
		t.Fatal("no libpcprofile.so (glibc's libc6 ships it)")
	}
	return []hostEnvAttack{
		{"LD_PRELOAD", map[string]string{"LD_PRELOAD": libs[0], "PCPROFILE_OUTPUT": filepath.Join(marks, "preload")}, "LD_PRELOAD"},
		{"LD_AUDIT", map[string]string{"LD_AUDIT": libs[0], "PCPROFILE_OUTPUT": filepath.Join(marks, "audit")}, "LD_AUDIT"},
		{"LD_DEBUG_OUTPUT", map[string]string{"LD_DEBUG": "all", "LD_DEBUG_OUTPUT": filepath.Join(marks, "debug")}, "LD_DEBUG_OUTPUT"},
	}
}

func (a hostEnvAttack) environ() []string {
	var env []string
	for k, v := range a.vars {
		env = append(env, k+"="+v)
	}
	return env
}

func (a hostEnvAttack) toml() string {
	var b strings.Builder
	b.WriteString("[env]\nset = { ")
	first := true
	for k, v := range a.vars {
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(k + " = \"" + v + "\"")
	}
	b.WriteString(" }\n")
	return b.String()
}

// marksDir is the attack's target directory: owned by the env's user on
// the host, read-only inside (it is in $HOME, outside the workspace).
func (e *env) marksDir() string {
	e.t.Helper()
	d := filepath.Join(e.home, "marks")
	if err := os.MkdirAll(d, 0o755); err != nil {
		e.t.Fatal(err)
	}
	e.chown()
	return d
}

// hostControl runs /bin/true on the host with the attack's environment, as
// the env's user, and checks that it left a file in marks: the attack works
// on this machine, so its absence after a run means something.
func (e *env) hostControl(a hostEnvAttack, marks string) {
	e.t.Helper()
	cmd := exec.Command("/bin/true")
	cmd.Env = append(e.environ(), a.environ()...)
	if e.user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.user.Credential()}
	}
	_ = cmd.Run()
	if ents, _ := os.ReadDir(marks); len(ents) == 0 {
		e.t.Fatalf("%s: the attack leaves no file even on the host (no positive control)", a.name)
	}
	clearDir(e.t, marks)
}

func (e *env) noMarks(a hostEnvAttack, marks, how string) {
	e.t.Helper()
	ents, _ := os.ReadDir(marks)
	for _, ent := range ents {
		b, _ := os.ReadFile(filepath.Join(marks, ent.Name()))
		e.t.Errorf("%s through %s reached a host process: %s (%.200q)", a.name, how, ent.Name(), b)
	}
}

func clearDir(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		if err := os.Remove(filepath.Join(dir, ent.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAttackEnvSetReachesHost is a hostile repository whose .sandbox.toml
// sets LD_PRELOAD, LD_AUDIT or LD_DEBUG_OUTPUT: untrusted, the variable is
// left out (and stderr says so); trusted, it reaches the command (positive
// control) and still no process on the host (bwrap).
func TestAttackEnvSetReachesHost(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		marks := e.marksDir()
		for _, a := range hostEnvAttacks(t, marks) {
			e.hostControl(a, marks)
			e.write(".sandbox.toml", a.toml())
			probe := `echo "seen=${` + a.seen + `:-none}"`
			r := e.cordon("", "run", "--", "sh", "-c", probe)
			if r.code != 0 || !strings.Contains(r.stdout, "seen=none\n") || !strings.Contains(r.stderr, "left out: env "+a.seen+"=") {
				t.Errorf("%s untrusted: exit %d, stdout %.500q, stderr %.500q", a.name, r.code, r.stdout, r.stderr)
			}
			e.noMarks(a, marks, "an untrusted [env].set")
			if r := e.cordon("", "trust", "-w", e.ws); r.code != 0 {
				t.Fatalf("trust: exit %d %s", r.code, r.stderr)
			}
			r = e.cordon("", "run", "--", "sh", "-c", probe)
			if r.code != 0 || !strings.Contains(r.stdout, "seen="+a.vars[a.seen]+"\n") {
				t.Errorf("%s trusted: the command did not get it: exit %d, stdout %.500q, stderr %.500q", a.name, r.code, r.stdout, r.stderr)
			}
			e.noMarks(a, marks, "a trusted [env].set")
			clearDir(t, marks)
		}
	})
}

// lspSession is a `cordon lsp` of the env's workspace, initialized, with
// the run output it has streamed so far. Requests from the server are
// answered with null.
type lspSession struct {
	e              *env
	in             io.WriteCloser
	r              *bufio.Reader
	stderr         *strings.Builder
	stdout, errOut string // sandbox/output of every run
	next           int
	close          func()
}

type lspMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func (e *env) lsp() *lspSession {
	e.t.Helper()
	cmd := exec.Command(cordonBin, "lsp")
	cmd.Dir, cmd.Env = e.ws, e.environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if e.user != nil {
		cmd.SysProcAttr.Credential = e.user.Credential()
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	s := &lspSession{e: e, in: in, r: bufio.NewReader(outPipe), stderr: &strings.Builder{}, next: 1}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	var once sync.Once
	s.close = func() {
		once.Do(func() {
			in.Close()
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	e.t.Cleanup(s.close)
	s.request("initialize", map[string]any{"processId": nil, "rootUri": "file://" + e.ws, "capabilities": map[string]any{}})
	s.send(map[string]any{"method": "initialized", "params": map[string]any{}})
	return s
}

func (s *lspSession) send(msg map[string]any) {
	msg["jsonrpc"] = "2.0"
	b, _ := json.Marshal(msg)
	fmt.Fprintf(s.in, "Content-Length: %d\r\n\r\n%s", len(b), b)
}

func (s *lspSession) read() lspMessage {
	n := -1
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.e.t.Fatalf("cordon lsp: %v; stderr:\n%s", err, s.stderr.String())
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		s.e.t.Fatal(err)
	}
	var m lspMessage
	if err := json.Unmarshal(b, &m); err != nil {
		s.e.t.Fatal(err)
	}
	return m
}

// request sends one request and returns its result, collecting the
// output streamed meanwhile.
func (s *lspSession) request(method string, params any) json.RawMessage {
	s.e.t.Helper()
	id := strconv.Itoa(s.next)
	s.next++
	s.send(map[string]any{"id": s.next - 1, "method": method, "params": params})
	for {
		m := s.read()
		switch {
		case m.Method == "sandbox/output":
			var o struct{ Stream, Data string }
			json.Unmarshal(m.Params, &o)
			if o.Stream == "stdout" {
				s.stdout += o.Data
			} else {
				s.errOut += o.Data
			}
		case m.Method != "" && len(m.ID) > 0:
			s.send(map[string]any{"id": m.ID, "result": nil})
		case m.Method == "" && string(m.ID) == id:
			if len(m.Error) > 0 {
				s.e.t.Fatalf("%s: %s", method, m.Error)
			}
			return m.Result
		}
	}
}

// lspRun starts `cordon lsp` in the env's workspace, sends one sandbox/run
// with params and returns the run's stdout (from sandbox/output) and its
// exit code.
func (e *env) lspRun(params map[string]any) (stdout, stderrOut string, exitCode int) {
	e.t.Helper()
	s := e.lsp()
	defer s.close()
	res := s.request("sandbox/run", params)
	var rr struct{ ExitCode int }
	json.Unmarshal(res, &rr)
	return s.stdout, s.errOut, rr.ExitCode
}

// TestAttackRunEnvReachesHost is a client (or an agent's tool) passing
// LD_PRELOAD, LD_AUDIT or LD_DEBUG_OUTPUT in sandbox/run's env: it reaches
// the command (positive control), never a process on the host.
func TestAttackRunEnvReachesHost(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		marks := e.marksDir()
		for _, a := range hostEnvAttacks(t, marks) {
			e.hostControl(a, marks)
			out, errOut, code := e.lspRun(map[string]any{"command": `echo "seen=${` + a.seen + `:-none}"; echo to-stderr >&2`, "env": a.vars})
			if code != 0 || !strings.Contains(out, "seen="+a.vars[a.seen]+"\n") || !strings.Contains(errOut, "to-stderr\n") {
				t.Errorf("%s: the command did not get it: exit %d, stdout %.500q, stderr %.500q", a.name, code, out, errOut)
			}
			e.noMarks(a, marks, "sandbox/run's env")
			clearDir(t, marks)
		}
	})
}
