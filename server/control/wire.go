package control

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
)

// Origins: who started a run, as sandbox/status shows it.
const (
	OriginEditor = "editor"
	OriginCLI    = "cli"
	OriginMCP    = "mcp"
	OriginShell  = "shell"
)

// Message types. A connection is one run: hello → welcome (or refused),
// then any number of approve → answer and violation, then end or EOF. The
// session may send stop at any time: the client ends the run.
const (
	typeHello     = "hello"
	typeWelcome   = "welcome"
	typeRefused   = "refused"
	typeApprove   = "approve"
	typeAnswer    = "answer"
	typeViolation = "violation"
	typeEnd       = "end"
	typeStop      = "stop" // session → client: end the run (sandbox/stop)
)

// Hello describes the run a client is about to start.
type Hello struct {
	Origin  string `json:"origin"`  // OriginCLI, OriginMCP, OriginShell
	Command string `json:"command"` // as shown to people
	Cwd     string `json:"cwd"`     // where it runs (inside the workspace)
	PID     int    `json:"pid"`     // the client's process
}

// message is one line on the socket (newline-delimited JSON).
type message struct {
	Type      string             `json:"type"`
	ID        int64              `json:"id,omitempty"`
	Hello     *Hello             `json:"hello,omitempty"`
	RunID     string             `json:"runId,omitempty"`
	Host      string             `json:"host,omitempty"`
	Port      int                `json:"port,omitempty"`
	Decision  proxy.Answer       `json:"decision,omitempty"`
	Violation *sandbox.Violation `json:"violation,omitempty"`
	ExitCode  *int               `json:"exitCode,omitempty"`
	Error     string             `json:"error,omitempty"`
}

// maxLine bounds one message: a violation's target is a path or a host.
const maxLine = 64 << 10

func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	return sc
}

func writeMessage(w io.Writer, m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
