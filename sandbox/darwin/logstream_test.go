package darwin

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
)

const testTag = "cordon-run-0123456789abcdef"

// The fixture holds `log stream --style ndjson` lines in the shape the
// unified log writes them (written from its documented format, not
// captured on a Mac): this run's reports become Violations with their
// rules; other runs' reports, a process's own forged message, repeated-
// report summaries, mach and sysctl denials, resolver noise and broken
// lines do not.
func TestParseLogStream(t *testing.T) {
	f, err := os.Open("../../testdata/seatbelt/log-stream.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pol := testPolicy(t, "../../testdata/policies/valid/design-example.toml", "/Users/dev/proj")
	j := judge{pol: pol}
	var got []string
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		lines++
		r, ok := ParseLogLine(sc.Bytes(), testTag)
		if !ok {
			continue
		}
		v := j.violation(r, "run-1", "make")
		if v.RunID != "run-1" || v.Command != "make" || v.Time.IsZero() {
			t.Errorf("violation %+v", v)
		}
		got = append(got, string(v.Kind)+" "+v.Target+" ("+v.Rule.String()+")")
	}
	if lines < 15 {
		t.Fatalf("fixture has %d lines", lines)
	}
	want := []string{
		"read /Users/dev/.aws/credentials (default)",
		"write /Users/dev/proj/.env (/Users/dev/proj/.sandbox.toml:4)",
		"write /Users/dev/proj/keys/deep/server.pem (/Users/dev/proj/.sandbox.toml:4)",
		"write /Users/dev/proj/.git (default)",
		"write /private/var/folders/zz/x/T/other/file name with spaces (default)",
		"net 93.184.216.34:443 (default)",
		"unix-socket /private/tmp/agent.sock (default)",
		"read /Users/dev/.ssh/id_ed25519 (default)",
		"write /Users/dev/proj/secrets/token (/Users/dev/proj/.sandbox.toml:4)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseLogLineFields(t *testing.T) {
	line := `{"eventMessage":"Sandbox: python3.12(77) deny(1) file-read-metadata /Users/dev/.ssh\n` + testTag + `","processID":0,"timestamp":"2026-12-01 21:00:00.500000+0100"}`
	r, ok := ParseLogLine([]byte(line), testTag)
	if !ok {
		t.Fatal("not parsed")
	}
	if r.Kind != sandbox.KindRead || r.Target != "/Users/dev/.ssh" || r.Process != "python3.12" || r.Operation != "file-read-metadata" {
		t.Errorf("%+v", r)
	}
	if want := time.Date(2026, 12, 1, 20, 0, 0, 500000000, time.UTC); !r.Time.Equal(want) {
		t.Errorf("time %v, want %v", r.Time, want)
	}
	// The tag must be the run's own, whole.
	if _, ok := ParseLogLine([]byte(line), testTag+"0"); ok {
		t.Error("a longer tag matched")
	}
	// No processID: not the kernel's report.
	if _, ok := ParseLogLine([]byte(strings.Replace(line, `"processID":0,`, "", 1)), testTag); ok {
		t.Error("a report without processID was taken")
	}
}

func TestLogArgs(t *testing.T) {
	args := LogArgs(testTag)
	if strings.Join(args[:3], " ") != "stream --style ndjson" || args[3] != "--predicate" || !strings.Contains(args[4], `"`+testTag+`"`) {
		t.Errorf("args %q", args)
	}
}
