//go:build linux

package linux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// setupLog keeps what bwrap (and the init stage, until the hand-off) write
// to stderr apart from the command's stderr, so that a sandbox that cannot
// be set up (no user namespaces, a mount bwrap refuses) ends the run with
// status 125 and one line saying why, rather than with bwrap's status 1,
// which is indistinguishable from the command's own.
//
// bwrap's stderr is a pipe read here; the command's stderr reaches the
// init stage as a descriptor of its own (initstage.Config.Stderr), which
// the stage puts on 2 once the sandbox is set up: the command gets the
// caller's stderr itself (a terminal stays a terminal).
type setupLog struct {
	bwrap   *os.File  // bwrap's stderr: the write end of the pipe
	command *os.File  // the command's stderr, passed to the stage
	stdout  io.Writer // what bwrap's stdout must be: the caller's, or command when both are one writer
	// closeAfterStart are this process's copies of what the children hold.
	closeAfterStart []*os.File
	text            bytes.Buffer
	read, copied    chan struct{}
}

// maxSetupLog bounds what is kept of bwrap's own messages.
const maxSetupLog = 64 << 10

func newSetupLog(stdout, stderr io.Writer) (*setupLog, error) {
	s := &setupLog{read: make(chan struct{}), copied: make(chan struct{}), stdout: stdout}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.bwrap = w
	s.closeAfterStart = append(s.closeAfterStart, w)
	go func() {
		defer close(s.read)
		defer r.Close()
		io.Copy(&limitedBuffer{&s.text, maxSetupLog}, r)
	}()
	switch f, ok := stderr.(*os.File); {
	case ok:
		s.command = f
		close(s.copied)
	case stderr == nil:
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			w.Close()
			return nil, err
		}
		s.command = null
		s.closeAfterStart = append(s.closeAfterStart, null)
		close(s.copied)
	default:
		cr, cw, err := os.Pipe()
		if err != nil {
			w.Close()
			return nil, err
		}
		s.command = cw
		s.closeAfterStart = append(s.closeAfterStart, cw)
		if sameWriter(stdout, stderr) {
			// One writer for both (as os/exec does): one pipe, so the
			// writer is never written from two goroutines and the
			// order of the command's writes is kept.
			s.stdout = cw
		}
		go func() {
			defer close(s.copied)
			defer cr.Close()
			io.Copy(stderr, cr)
		}()
	}
	return s, nil
}

// started drops this process's copies of the children's ends, so that
// reading ends when the sandbox does.
func (s *setupLog) started() {
	for _, f := range s.closeAfterStart {
		f.Close()
	}
}

// finish waits for the sandbox's stderr to close and returns the failure
// to report when the sandbox never reached the hand-off, or nil; what
// bwrap said after a successful set-up goes on to the command's stderr.
func (s *setupLog) finish(handedOff bool, stderr io.Writer, exitCode int) error {
	<-s.read
	<-s.copied
	text := s.text.String()
	if !handedOff {
		line := strings.TrimSpace(text)
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if line == "" {
			line = fmt.Sprintf("bwrap exited with status %d before the command started", exitCode)
		}
		return errors.New("the sandbox could not be set up: " + line)
	}
	if text != "" && stderr != nil {
		io.WriteString(stderr, text)
	}
	return nil
}

// sameWriter is a == b, false for writers that are not comparable.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() { _ = recover() }()
	return a == b
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
