// Command mutate is the mutation gate (make mutate): it breaks the
// security-critical lines one at a time, in a scratch copy of the tree,
// and fails unless a test catches every break.
//
// The mutations live beside the code they guard, in a file named
// mutations.txt in the package's directory. Each block, separated by a
// blank line, is one mutation:
//
//	name: seccomp refuses ptrace
//	file: seccomp.go
//	find: "ptrace":        unix.SYS_PTRACE,
//	replace:
//	test: ./sandbox/seccomp TestDeniedSyscalls
//	test: ./cmd/cordon TestAttackPrivilege
//
// file is relative to the table's directory; find is exact text (after
// "find: ", to the end of the line) that must occur exactly once in it, so
// the table fails loudly instead of rotting when the code changes; replace
// is what takes its place (empty: the text is deleted; "\n" is a line
// break). A protection that holds twice over is broken with several
// find/replace pairs (each after its file line) in one mutation; each test line is a package (relative to the repository root)
// and a go test -run pattern. A mutation is caught when one of its tests
// fails (with "every: yes", when each of them fails: replacing every
// command with /bin/true must fail every attack test); it survives when all pass, and a mutated run that outlives the
// per-mutation timeout counts as a hang. Both fail the gate, as does a
// mutation that does not compile or a test that fails unmutated.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

type testRef struct{ pkg, run string }

type mutation struct {
	table string // the mutations.txt it came from
	line  int
	name  string
	edits []edit
	tests []testRef
	every bool // each test must fail, not just one
}

// edit replaces find, which occurs once in file, with replace.
type edit struct {
	file          string // repository-relative
	find, replace string
}

func main() {
	only := flag.String("only", "", "run only the mutations whose name matches this regular expression")
	timeout := flag.Duration("timeout", 4*time.Minute, "per-mutation deadline; a run past it is a hang")
	keep := flag.Bool("keep", false, "keep the scratch copy")
	flag.Parse()
	if err := run(*only, *timeout, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func run(only string, timeout time.Duration, keep bool) error {
	root, err := gitOutput(".", "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	root = strings.TrimSpace(root)
	muts, err := loadTables(root)
	if err != nil {
		return err
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return err
		}
		var keep []mutation
		for _, m := range muts {
			if re.MatchString(m.name) {
				keep = append(keep, m)
			}
		}
		muts = keep
	}
	if len(muts) == 0 {
		return errors.New("no mutations selected")
	}
	scratch, err := os.MkdirTemp("", "cordon-mutate-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("scratch copy:", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	if err := copyTree(root, scratch); err != nil {
		return err
	}
	start := time.Now()
	if isolated() {
		// The user halves' account must exist before the host's /etc is
		// an overlay, or each run would create its own.
		if err := exec.Command("id", testUser).Run(); err != nil {
			if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", testUser).CombinedOutput(); err != nil {
				return fmt.Errorf("creating the test user %s: %v %s", testUser, err, out)
			}
		}
		if out, err := isolate(context.Background(), scratch, "true").CombinedOutput(); err != nil {
			return fmt.Errorf("cannot isolate the mutated runs (a mount namespace over overlays, isolate.sh): %v\n%s", err, out)
		}
	} else {
		fmt.Println("mutate: not root, so the mutated runs share the host's file system (as root each runs in overlays that vanish with it)")
	}

	// Baseline: every test a row names must pass on the unmutated copy,
	// or a failure proves nothing about the mutation.
	seen := map[testRef]bool{}
	var base []testRef
	for _, m := range muts {
		for _, tr := range m.tests {
			if !seen[tr] {
				seen[tr] = true
				base = append(base, tr)
			}
		}
	}
	// One run per package for the top-level patterns; a pattern naming
	// subtests runs on its own (-run splits at "/" before "|").
	byPkg := map[string][]string{}
	var runs []testRef
	for _, tr := range base {
		if strings.Contains(tr.run, "/") {
			runs = append(runs, tr)
			continue
		}
		if byPkg[tr.pkg] == nil {
			runs = append(runs, testRef{pkg: tr.pkg})
		}
		byPkg[tr.pkg] = append(byPkg[tr.pkg], tr.run)
	}
	for _, r := range runs {
		pattern := r.run
		if pattern == "" {
			pattern = strings.Join(byPkg[r.pkg], "|")
		}
		fmt.Printf("baseline %s -run '%s'\n", r.pkg, pattern)
		res := goTest(scratch, r.pkg, pattern, timeout*2, true)
		if res.status != passed {
			return fmt.Errorf("baseline %s -run %q %s unmutated:\n%s", r.pkg, pattern, res.status, tail(res.out, 60))
		}
	}

	var bad []string
	for i, m := range muts {
		t0 := time.Now()
		verdict, detail := apply(scratch, m, timeout)
		fmt.Printf("[%d/%d] %-8s %-58s %s (%.1fs)\n", i+1, len(muts), verdict, m.name, detail, time.Since(t0).Seconds())
		if verdict != "caught" {
			bad = append(bad, fmt.Sprintf("%s (%s:%d): %s %s", m.name, m.table, m.line, verdict, detail))
		}
	}
	fmt.Printf("%d mutations, %d caught, in %s\n", len(muts), len(muts)-len(bad), time.Since(start).Round(time.Second))
	if len(bad) > 0 {
		return fmt.Errorf("%d mutations not caught:\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
	return nil
}

// apply makes one mutation in the scratch copy, runs its tests, and puts
// the file back.
func apply(scratch string, m mutation, timeout time.Duration) (verdict, detail string) {
	for _, ed := range m.edits {
		path := filepath.Join(scratch, ed.file)
		orig, err := os.ReadFile(path)
		if err != nil {
			return "error", err.Error()
		}
		defer os.WriteFile(path, orig, 0o644)
		mutated := bytes.Replace(orig, []byte(ed.find), []byte(ed.replace), 1)
		if err := os.WriteFile(path, mutated, 0o644); err != nil {
			return "error", err.Error()
		}
	}
	if m.every {
		return applyEvery(scratch, m, timeout)
	}
	deadline := time.Now().Add(timeout)
	for _, tr := range m.tests {
		left := time.Until(deadline)
		if left <= 0 {
			return "HANG", "no time left for " + tr.pkg + " " + tr.run
		}
		res := goTest(scratch, tr.pkg, tr.run, left, true)
		switch res.status {
		case failed:
			return "caught", "by " + strings.Join(res.failures, ", ") + " (" + tr.pkg + ")"
		case hung:
			return "HANG", tr.pkg + " " + tr.run + ":\n" + tail(res.out, 30)
		case broken:
			return "BROKEN", "the mutation does not build (" + tr.pkg + "):\n" + tail(res.out, 20)
		}
	}
	return "SURVIVED", "every test passed"
}

var wholeTest = regexp.MustCompile(`^\^(Test\w+)\$$`)

// applyEvery runs an every-row's tests, one go test per package (one
// build of it): each named test must fail.
func applyEvery(scratch string, m mutation, timeout time.Duration) (verdict, detail string) {
	type group struct {
		pkg   string
		names []string // whole-test patterns' names; nil: run alone
		run   string
	}
	var groups []group
	at := map[string]int{}
	for _, tr := range m.tests {
		name := wholeTest.FindStringSubmatch(tr.run)
		if name == nil {
			groups = append(groups, group{pkg: tr.pkg, run: tr.run})
			continue
		}
		i, ok := at[tr.pkg]
		if !ok {
			i = len(groups)
			at[tr.pkg] = i
			groups = append(groups, group{pkg: tr.pkg})
		}
		groups[i].names = append(groups[i].names, name[1])
	}
	var caughtBy []string
	for _, g := range groups {
		pattern := g.run
		if g.names != nil {
			pattern = "^(" + strings.Join(g.names, "|") + ")$"
		}
		res := goTest(scratch, g.pkg, pattern, timeout, false)
		switch res.status {
		case passed:
			return "SURVIVED", g.pkg + " " + pattern + " passed"
		case hung:
			return "HANG", g.pkg + " " + pattern + ":\n" + tail(res.out, 30)
		case broken:
			return "BROKEN", "the mutation does not build (" + g.pkg + "):\n" + tail(res.out, 20)
		}
		for _, name := range g.names {
			var by []string
			for _, f := range res.failures {
				if f == name || strings.HasPrefix(f, name+"/") {
					by = append(by, f)
				}
			}
			if by == nil {
				return "SURVIVED", name + " (" + g.pkg + ") passed"
			}
			caughtBy = append(caughtBy, strings.Join(by, ", "))
		}
		if g.names == nil {
			caughtBy = append(caughtBy, strings.Join(res.failures, ", "))
		}
	}
	return "caught", "by every test: " + strings.Join(caughtBy, "; ")
}

type status string

const (
	passed status = "passed"
	failed status = "failed"
	hung   status = "hung"
	broken status = "did not build"
)

type testResult struct {
	status   status
	failures []string // the deepest failing tests
	out      string
}

// testUser is sandboxtest.UserName, the account the user halves run as.
const testUser = "cordontest"

// isolated says whether each go test runs in its own mount namespace over
// overlays of the host's directories (isolate.sh): only root can mount.
func isolated() bool { return os.Geteuid() == 0 }

// isolate is name args run by isolate.sh in its own mount namespace, and
// its own PID namespace: a mutation that breaks --die-with-parent or the
// kill of a run's tree leaves sandboxes behind (in their own sessions, out
// of reach of the kill of the process group); they die with the namespace.
func isolate(ctx context.Context, scratch, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "--",
		"sh", filepath.Join(scratch, "testdata/scripts/mutate/isolate.sh"), scratch, name}, args...)...)
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// goTest runs one package's matching tests with a deadline. go test's own
// -timeout fires first, so a hang prints where it hung; the kill of the
// whole process group is the backstop.
func goTest(dir, pkg, pattern string, limit time.Duration, failfast bool) testResult {
	ctx, cancel := context.WithTimeout(context.Background(), limit+30*time.Second)
	defer cancel()
	args := []string{"test", "-count=1", "-timeout", limit.String(), "-run", pattern}
	if failfast {
		args = append(args, "-failfast")
	}
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	if isolated() {
		// A broken protection may let an attack test write /etc or /usr
		// for real: those writes land in overlays that die with the run.
		cmd = isolate(ctx, dir, "go", args...)
	}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	s := string(out)
	switch {
	case err == nil && strings.Contains(s, "no tests to run"):
		return testResult{status: broken, out: "pattern " + pattern + " matches no test in " + pkg + "\n" + s}
	case err == nil:
		return testResult{status: passed, out: s}
	case ctx.Err() != nil || strings.Contains(s, "panic: test timed out"):
		return testResult{status: hung, out: s}
	case strings.Contains(s, "[build failed]") || strings.Contains(s, "[setup failed]"):
		return testResult{status: broken, out: s}
	}
	var all []string
	for _, m := range failLine.FindAllStringSubmatch(s, -1) {
		all = append(all, m[1])
	}
	// Keep the deepest, once each: a parent fails with its subtest.
	var fails []string
	for i, name := range all {
		keep := true
		for j, other := range all {
			if strings.HasPrefix(other, name+"/") || (other == name && j < i) {
				keep = false
			}
		}
		if keep {
			fails = append(fails, name)
		}
	}
	if len(fails) == 0 {
		// No test failed, yet go test did: TestMain or a build step.
		fails = []string{"the package's set-up: " + lastLine(s)}
	}
	return testResult{status: failed, failures: fails, out: s}
}

// loadTables reads every tracked mutations.txt and checks each row
// against the code before anything runs.
func loadTables(root string) ([]mutation, error) {
	list, err := gitOutput(root, "ls-files", "--cached", "--others", "--exclude-standard", "*mutations.txt")
	if err != nil {
		return nil, err
	}
	var all []mutation
	var errs []string
	for _, table := range strings.Fields(list) {
		muts, err := parseTable(root, table)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, m := range muts {
			if err := check(root, m); err != nil {
				errs = append(errs, err.Error())
			}
		}
		all = append(all, muts...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the mutation tables do not match the code:\n  %s", strings.Join(errs, "\n  "))
	}
	return all, nil
}

func parseTable(root, table string) ([]mutation, error) {
	f, err := os.Open(filepath.Join(root, table))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir := filepath.Dir(table)
	var out []mutation
	var cur *mutation
	file := ""
	flush := func() error {
		if cur == nil {
			return nil
		}
		m := *cur
		cur = nil
		if m.name == "" || len(m.edits) == 0 || len(m.tests) == 0 {
			return fmt.Errorf("%s:%d: a mutation needs a name, a file, a find and at least one test", m.table, m.line)
		}
		out = append(out, m)
		return nil
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			file = ""
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY: VALUE, got %q", table, n, line)
		}
		val = strings.TrimPrefix(val, " ")
		if cur == nil {
			cur = &mutation{table: table, line: n}
		}
		switch key {
		case "name":
			cur.name = val
		case "file":
			file = filepath.Join(dir, val)
		case "find":
			if file == "" {
				return nil, fmt.Errorf("%s:%d: find before file", table, n)
			}
			cur.edits = append(cur.edits, edit{file: file, find: strings.ReplaceAll(val, `\n`, "\n")})
		case "replace":
			if len(cur.edits) == 0 {
				return nil, fmt.Errorf("%s:%d: replace before find", table, n)
			}
			cur.edits[len(cur.edits)-1].replace = strings.ReplaceAll(val, `\n`, "\n")
		case "every":
			cur.every = val == "yes"
		case "test":
			pkg, pattern, ok := strings.Cut(val, " ")
			if !ok || !strings.HasPrefix(pkg, "./") {
				return nil, fmt.Errorf("%s:%d: want test: ./PACKAGE PATTERN, got %q", table, n, val)
			}
			cur.tests = append(cur.tests, testRef{pkg, strings.TrimSpace(pattern)})
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q", table, n, key)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func check(root string, m mutation) error {
	for _, ed := range m.edits {
		b, err := os.ReadFile(filepath.Join(root, ed.file))
		if err != nil {
			return fmt.Errorf("%s:%d (%s): %v", m.table, m.line, m.name, err)
		}
		if n := bytes.Count(b, []byte(ed.find)); n != 1 {
			return fmt.Errorf("%s:%d (%s): %q occurs %d times in %s, want exactly once", m.table, m.line, m.name, ed.find, n, ed.file)
		}
		if ed.find == ed.replace {
			return fmt.Errorf("%s:%d (%s): the replacement changes nothing", m.table, m.line, m.name)
		}
	}
	return nil
}

// copyTree copies the files git knows of (tracked, and new ones not
// ignored) so the gate tests the tree as it is, uncommitted edits too,
// without touching it.
func copyTree(root, dst string) error {
	list, err := gitOutput(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	for _, rel := range strings.Split(list, "\x00") {
		if rel == "" {
			continue
		}
		src := filepath.Join(root, rel)
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted, not yet committed
		}
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, to); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLine(s string) string { return tail(s, 1) }
