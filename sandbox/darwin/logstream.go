package darwin

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// LogCommand is the unified-log reader a run starts beside the command:
// the absolute path, never one found on PATH.
const LogCommand = "/usr/bin/log"

// LogArgs are the arguments of `log stream` for one run: its deny reports
// only, one JSON object a line.
func LogArgs(tag string) []string {
	return []string{"stream", "--style", "ndjson", "--predicate", `eventMessage CONTAINS "` + tag + `"`}
}

// logEvent is the part of a `log stream --style ndjson` line read here.
type logEvent struct {
	EventMessage     string `json:"eventMessage"`
	ProcessID        *int   `json:"processID"`
	ProcessImagePath string `json:"processImagePath"`
	SenderImagePath  string `json:"senderImagePath"`
	Timestamp        string `json:"timestamp"`
}

// logTimeLayout is how `log` writes timestamps.
const logTimeLayout = "2006-01-02 15:04:05.000000-0700"

// denyRE reads a seatbelt report: "Sandbox: NAME(PID) deny(N) OPERATION
// TARGET". NAME may hold spaces and parentheses; the greedy first group
// leaves the last "(PID) deny(" to the rest.
var denyRE = regexp.MustCompile(`(?s)^Sandbox: (.*)\((\d+)\) deny\((\d+)\) (\S+)(?: (.*))?$`)

// noise are reports no rule of a policy could change: the resolver's and
// the system log's sockets, which libc tries on its own.
var noise = []string{"/private/var/run/mDNSResponder", "/private/var/run/syslog", "/var/run/mDNSResponder", "/var/run/syslog"}

// Report is one deny report of the run, before its rule is known.
type Report struct {
	Kind      sandbox.Kind
	Target    string
	Operation string
	Process   string
	Time      time.Time
}

// ParseLogLine reads one line of `log stream --style ndjson` output. It
// returns ok for a report of this run (tag) that is a blocked access
// DESIGN names (a read, a write, a connection, a unix socket); everything
// else is skipped: the header line, other runs' reports, messages not
// from the kernel's sandbox (a sandboxed process can log text of its own
// with the tag in it), repeated-report summaries, mach and sysctl denials.
func ParseLogLine(line []byte, tag string) (Report, bool) {
	var ev logEvent
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
		return Report{}, false
	}
	if ev.ProcessID == nil || *ev.ProcessID != 0 {
		// Seatbelt reports come from the kernel (process 0); anything
		// else is a process's own log message.
		return Report{}, false
	}
	msg, _, found := strings.Cut(ev.EventMessage, tag)
	if !found {
		return Report{}, false
	}
	m := denyRE.FindStringSubmatch(strings.TrimRight(msg, " \n\t"))
	if m == nil {
		return Report{}, false
	}
	r := Report{Process: m[1], Operation: m[4], Target: m[5]}
	if t, err := time.Parse(logTimeLayout, ev.Timestamp); err == nil {
		r.Time = t
	}
	switch op := r.Operation; {
	case strings.HasPrefix(op, "file-read"):
		r.Kind = sandbox.KindRead
	case strings.HasPrefix(op, "file-write"), op == "file-link":
		r.Kind = sandbox.KindWrite
	case strings.HasPrefix(op, "network-"):
		r.Kind = sandbox.KindNet
		if strings.HasPrefix(r.Target, "/") {
			r.Kind = sandbox.KindUnixSocket
			for _, n := range noise {
				if r.Target == n {
					return Report{}, false
				}
			}
		}
	default:
		return Report{}, false
	}
	if r.Target == "" {
		return Report{}, false
	}
	if strings.HasPrefix(r.Target, "/") {
		r.Target = filepath.Clean(r.Target)
	}
	return r, true
}

// judge finds the rule that decided a report, as the Linux backend does:
// the first deny rule that covers the target, else the built-in default
// (outside every writable place, a protected path, no rule for the host).
type judge struct {
	pol *workspace.Policy
}

func (j judge) rule(r Report) workspace.Source {
	p := j.pol
	var lists [][]workspace.PathRule
	switch r.Kind {
	case sandbox.KindRead:
		lists = [][]workspace.PathRule{p.Filesystem.DenyRead}
	case sandbox.KindWrite:
		lists = [][]workspace.PathRule{p.Filesystem.DenyWrite, p.Filesystem.DenyRead}
	default:
		return workspace.Source{}
	}
	for _, target := range spellings(r.Target) {
		for _, list := range lists {
			for _, rule := range list {
				if covers(ruleGlob(rule, p.Root), target) {
					return rule.Source
				}
			}
		}
	}
	return workspace.Source{}
}

// Violation turns a report into the run's Violation.
func (j judge) violation(r Report, runID, command string) sandbox.Violation {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	return sandbox.Violation{RunID: runID, Command: command, Kind: r.Kind, Target: r.Target, Rule: j.rule(r), Time: t}
}
