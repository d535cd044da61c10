package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"

	"github.com/cordon-dev/cordon/sandbox"
	"time"
)

// cordonBin is the cordon binary built once for the end-to-end tests;
// probeBin tries one attack and says whether it was refused.
var cordonBin, probeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cordon-cli-test-")
	if err != nil {
		panic(err)
	}
	// World-readable so the unprivileged test user can run it too.
	_ = os.Chmod(dir, 0o755)
	// Built the way make build builds it: static, with the init image
	// embedded, so these tests run the stage every user runs.
	cordonBin = filepath.Join(dir, "cordon")
	// The probe needs nothing of cordon's: build it meanwhile.
	probeBin = filepath.Join(dir, "probe")
	probe := exec.Command("go", "build", "-o", probeBin, "./testdata/probe")
	probe.Stderr = os.Stderr
	if err := probe.Start(); err != nil {
		panic("building the probe: " + err.Error())
	}
	image := "../../sandbox/linux/initimage/cordon-init.bin"
	for _, args := range [][]string{
		{"build", "-trimpath", "-ldflags=-s -w", "-o", image + ".tmp", "../../sandbox/linux/initimage/cordon-init"},
		{"build", "-tags", "cordon_init_image", "-o", cordonBin, "."},
	} {
		build := exec.Command("go", args...)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			panic("building cordon: " + err.Error())
		}
		if args[len(args)-1] != "." {
			if err := os.Rename(image+".tmp", image); err != nil {
				panic(err)
			}
		}
	}
	if err := probe.Wait(); err != nil {
		panic("building the probe: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is an isolated user: its own home, config and state, so tests never
// read or write the real ones.
type env struct {
	t     *testing.T
	home  string
	ws    string
	extra []string
	user  *testUser // nil: run as the test's own user
	wrap  []string  // a command cordon runs under (its argv before cordon's)
}

func newEnv(t *testing.T) *env { return newEnvAs(t, nil) }

// newEnvAs makes an isolated home and workspace owned by u (or by us).
func newEnvAs(t *testing.T, u *testUser) *env {
	t.Helper()
	base := sandboxtest.Dir(t, nil)
	e := &env{t: t, home: filepath.Join(base, "home"), ws: filepath.Join(base, "ws"), user: u}
	backendException(t)
	if landlockPass() {
		e.wrap = noUsernsWrap
	}
	for _, d := range []string{e.home, e.ws, filepath.Join(e.home, ".run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if u != nil {
		os.Chmod(base, 0o755)
		e.chown()
	}
	return e
}

// chown gives everything below the env to its user.
func (e *env) chown() {
	if e.user == nil {
		return
	}
	for _, root := range []string{e.home, e.ws} {
		sandboxtest.Chown(e.t, root, e.user)
	}
}

func (e *env) environ() []string {
	return append([]string{
		"HOME=" + e.home,
		"XDG_CONFIG_HOME=" + filepath.Join(e.home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(e.home, ".local", "state"),
		"XDG_RUNTIME_DIR=" + filepath.Join(e.home, ".run"),
		"PATH=" + os.Getenv("PATH"),
		"LANG=C",
	}, e.extra...)
}

func (e *env) write(rel, content string) string {
	e.t.Helper()
	p := filepath.Join(e.ws, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.chown()
	return p
}

type result struct {
	code           int
	stdout, stderr string
}

// runDeadline bounds every cordon the tests start, well inside the
// package timeout, so a run that hangs fails its own test with what it
// was waiting for instead of the whole package.
const runDeadline = 3 * time.Minute

// cordon runs the binary with no controlling terminal (Setsid), as CI does.
func (e *env) cordon(stdin string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, cordonBin, args...)
	if len(e.wrap) > 0 {
		cmd = exec.CommandContext(ctx, e.wrap[0], append(append(e.wrap[1:len(e.wrap):len(e.wrap)], cordonBin), args...)...)
	}
	// Kill cordon's whole session: it leads one (Setsid).
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = e.ws
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if e.user != nil {
		cmd.SysProcAttr.Credential = e.user.Credential()
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		// Errorf, not Fatalf: some tests run cordon from other goroutines.
		e.t.Errorf("cordon %q did not end within %v; stdout:\n%s\nstderr:\n%s", args, runDeadline, out.String(), errb.String())
		return result{-1, out.String(), errb.String()}
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("cordon %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func TestRunPassesExitStatusAndStreams(t *testing.T) {
	e := newEnv(t)
	r := e.cordon("hello from stdin\n", "run", "--", "sh", "-c", "cat; echo to-stderr >&2; exit 7")
	if r.code != 7 {
		t.Fatalf("exit %d, want 7; stderr: %s", r.code, r.stderr)
	}
	if r.stdout != "hello from stdin\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "to-stderr") {
		t.Fatalf("stderr %q", r.stderr)
	}
}

func TestRunShellString(t *testing.T) {
	e := newEnv(t)
	r := e.cordon("", "run", "-c", "echo $((6*7))")
	if r.code != 0 || r.stdout != "42\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestRunSignalStatus(t *testing.T) {
	e := newEnv(t)
	r := e.cordon("", "run", "--", "sh", "-c", "kill -TERM $$")
	if r.code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d, want %d; stderr: %s", r.code, 128+int(syscall.SIGTERM), r.stderr)
	}
}

func TestRunRefusesInvalidPolicyAndRunsNothing(t *testing.T) {
	e := newEnv(t)
	e.write(".sandbox.toml", "[filesystem]\nallow_writ = [\"x\"]\n")
	marker := filepath.Join(e.ws, "ran")
	r := e.cordon("", "run", "--", "touch", marker)
	if r.code != exitSetup {
		t.Fatalf("exit %d, want %d; stderr: %s", r.code, exitSetup, r.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], ".sandbox.toml:2:1") {
		t.Fatalf("want one line naming .sandbox.toml:2:1, got %q", r.stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran although the policy is invalid")
	}
}

func TestRunRefusesWithoutBubblewrap(t *testing.T) {
	e := newEnv(t)
	bin := t.TempDir()
	for _, tool := range []string{"sh", "touch"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	e.extra = []string{"PATH=" + bin}
	marker := filepath.Join(e.ws, "ran")
	r := e.cordon("", "run", "--", "touch", marker)
	if r.code != exitSetup || !strings.Contains(r.stderr, "bwrap") {
		t.Fatalf("exit %d stderr %q; want %d naming bwrap", r.code, r.stderr, exitSetup)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran without a sandbox")
	}
}

func TestRunUsage(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"run"},
		{"run", "-c", "true", "--", "true"},
	} {
		if r := e.cordon("", args...); r.code != exitSetup {
			t.Errorf("cordon %q: exit %d, want %d", args, r.code, exitSetup)
		}
	}
}

func TestRunReportsBlockedWriteAndNet(t *testing.T) {
	e := newEnv(t)
	outside := filepath.Join(e.home, "outside.txt")
	r := e.cordon("", "run", "--json", "--", "sh", "-c",
		"echo x > "+outside+"; curl -sS -m 5 -o /dev/null http://unknown-host.example/ ; exit 0")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("a write outside the workspace reached the host")
	}
	var kinds []string
	for _, line := range strings.Split(r.stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var v sandbox.Violation
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("bad JSON violation %q: %v", line, err)
		}
		kinds = append(kinds, string(v.Kind)+" "+v.Target)
	}
	want := "net unknown-host.example:80"
	found := false
	for _, k := range kinds {
		found = found || k == want
	}
	if !found {
		t.Fatalf("violations %q lack %q; stderr:\n%s", kinds, want, r.stderr)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	bad := e.write("bad.toml", "[network]\nallow = [\"ok.example\", \"bad\\u0000host\"]\nunknown = \"maybe\"\n")
	r := e.cordon("", "check", bad)
	if r.code != 1 {
		t.Fatalf("check of an invalid file: exit %d", r.code)
	}
	for _, want := range []string{bad + ":2:", bad + ":3:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stdout)
		}
	}
	good := e.write("good.toml", "[network]\nallow = [\"github.com\"]\n")
	if r := e.cordon("", "check", good); r.code != 0 {
		t.Fatalf("check of a valid file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestInitWritesAValidStarterOnce(t *testing.T) {
	e := newEnv(t)
	if r := e.cordon("", "init", "-w", e.ws); r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.stderr)
	}
	file := filepath.Join(e.ws, ".sandbox.toml")
	if r := e.cordon("", "check", file); r.code != 0 {
		t.Fatalf("the starter file does not check: %s", r.stdout)
	}
	if err := os.WriteFile(file, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.cordon("", "init", "-w", e.ws); r.code == 0 {
		t.Fatal("init overwrote an existing policy")
	}
	if b, _ := os.ReadFile(file); string(b) != "# mine\n" {
		t.Fatalf("policy changed to %q", b)
	}
}

func TestTrustGatesWidening(t *testing.T) {
	e := newEnv(t)
	e.write(".sandbox.toml", "[env]\npass = [\"DEMO_TOKEN\"]\n")
	e.extra = []string{"DEMO_TOKEN=s3cret"}
	r := e.cordon("", "run", "--", "sh", "-c", "echo token=${DEMO_TOKEN:-none}")
	if r.stdout != "token=none\n" || !strings.Contains(r.stderr, "not trusted") {
		t.Fatalf("untrusted: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := e.cordon("", "trust", "-w", e.ws); r.code != 0 {
		t.Fatalf("trust: exit %d %s", r.code, r.stderr)
	}
	r = e.cordon("", "run", "--", "sh", "-c", "echo token=${DEMO_TOKEN:-none}")
	if r.stdout != "token=s3cret\n" || strings.Contains(r.stderr, "not trusted") {
		t.Fatalf("trusted: stdout %q stderr %q", r.stdout, r.stderr)
	}
	// Any change to the file needs trust again.
	e.write(".sandbox.toml", "[env]\npass = [\"DEMO_TOKEN\"]\n# edited\n")
	r = e.cordon("", "run", "--", "sh", "-c", "echo token=${DEMO_TOKEN:-none}")
	if r.stdout != "token=none\n" {
		t.Fatalf("after an edit: stdout %q stderr %q", r.stdout, r.stderr)
	}
}

// A launcher killed with SIGKILL cannot clean up; the sandbox must still
// take every process of the run with it.
func TestKilledLauncherLeavesNoProcess(t *testing.T) {
	e := newEnv(t)
	// A sleep of an unusual length marks the run's processes.
	secs := sandboxtest.Marker(1)
	cmd := exec.Command(cordonBin, "run", "--", "sh", "-c", "sleep "+secs+" & sleep "+secs+"; true")
	cmd.Dir = e.ws
	cmd.Env = e.environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(sandboxtest.Procs("sleep", secs)) < 2 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the sandboxed processes never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline = time.Now().Add(5 * time.Second)
	for len(sandboxtest.Procs("sleep", secs)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of the run outlived a SIGKILLed cordon", len(sandboxtest.Procs("sleep", secs)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// cordon makes nothing on the host to enforce the policy, so a
	// SIGKILLed cordon leaves nothing behind either.
	if ents, _ := os.ReadDir(e.ws); len(ents) != 0 {
		t.Fatalf("left behind by a SIGKILLed cordon: %d entries, e.g. %s", len(ents), ents[0].Name())
	}
}

func TestExplainAndDoctor(t *testing.T) {
	e := newEnv(t)
	e.write(".sandbox.toml", "[network]\nallow = [\"github.com:443\"]\ndeny = [\"evil.example\"]\n")
	r := e.cordon("", "explain", "-w", e.ws)
	if r.code != 0 || !strings.Contains(r.stdout, "evil.example") || !strings.Contains(r.stdout, ".sandbox.toml:3") ||
		!strings.Contains(r.stdout, "NOT trusted") || !strings.Contains(r.stdout, "net github.com:443") {
		t.Fatalf("explain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = e.cordon("", "doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "bwrap") || !strings.Contains(r.stdout, "user namespaces") {
		t.Fatalf("doctor: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// make build embeds the small init stage; every sandbox in these
	// tests (as root and as the test user) starts through it.
	if !strings.Contains(r.stdout, "ok   init stage       embedded image") {
		t.Errorf("the built cordon carries no init image:\n%s", r.stdout)
	}
	// The line that sums it up names every layer a run has in force.
	if want := "ok   in force         bwrap + seccomp + Landlock ABI "; !strings.Contains(r.stdout, want) {
		t.Errorf("doctor does not say %q:\n%s", want, r.stdout)
	}
	e.extra = []string{"PATH=/nonexistent"}
	if r := e.cordon("", "doctor"); r.code != 1 || !strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "apt-get install bubblewrap") {
		t.Fatalf("doctor without bwrap: exit %d\n%s", r.code, r.stdout)
	}
}
