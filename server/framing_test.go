package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/server/runner"
)

func TestFrameReaderResyncs(t *testing.T) {
	in := "Content-Length: x\r\n\r\n{garbage}" + string(frame([]byte(`{"a":1}`))) +
		"Content-Length: 3\r\n\r\n{}}" + string(frame([]byte(`{"b":2}`)))
	fr := newFrameReader(bytes.NewReader([]byte(in)))
	var bodies []string
	var fe int
	for {
		b, err := fr.Read()
		var e *frameError
		if errors.As(err, &e) {
			fe++
			continue
		}
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		bodies = append(bodies, string(b))
	}
	want := []string{`{"a":1}`, `{}}`, `{"b":2}`}
	if fe != 1 || len(bodies) != 3 || bodies[0] != want[0] || bodies[1] != want[1] || bodies[2] != want[2] {
		t.Fatalf("bodies %q, framing errors %d", bodies, fe)
	}
}

// FuzzFrameReader: any input ends in a fatal error (EOF) after finitely
// many reads, without panicking, and every body respects its bound.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("Content-Length: 2\r\n\r\n{}"))
	f.Add([]byte("Content-Length: 2\r\nContent-Type: x\r\n\r\n{}Content-Length: -1\r\n\r\n"))
	f.Add([]byte("Content-Length: 99999999999999999999\r\n\r\n"))
	f.Add([]byte("\r\n\r\nxx: y\r\n\r\nContent-Length:0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data))
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatalf("no progress after %d reads", i)
			}
			b, err := fr.Read()
			var fe *frameError
			if errors.As(err, &fe) {
				continue
			}
			if err != nil {
				return
			}
			if len(b) > maxFrame {
				t.Fatalf("body of %d bytes", len(b))
			}
		}
	})
}

// FuzzServe: whatever the client sends, Serve answers on stdout with
// frames only and returns at end of input.
func FuzzServe(f *testing.F) {
	init := frame([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootUri":"file:///tmp"}}`))
	f.Add(append(init, frame([]byte(`{"jsonrpc":"2.0","id":2,"method":"sandbox/status"}`))...))
	f.Add(append(init, frame([]byte(`{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1.5e300}}`))...))
	f.Add(append(init, frame([]byte(`{"jsonrpc":"2.0","id":3,"method":"textDocument/codeAction","params":{"context":{"diagnostics":[{"source":"cordon","data":{"kind":"net","target":"::","root":"/tmp"}}]}}}`))...))
	f.Add([]byte("Content-Length: 5\r\n\r\n[1,2]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
			return &runner.Outcome{}, nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		dir := t.TempDir()
		err := Serve(ctx, bytes.NewReader(data), &syncBuffer{b: &out}, Options{Executor: exe, Dirs: testDirs(dir), Environ: []string{}})
		if err != nil && ExitCode(err) != 1 {
			t.Fatalf("Serve: %v", err)
		}
		// Everything written is well-framed JSON.
		fr := newFrameReader(bytes.NewReader(out.Bytes()))
		for {
			b, err := fr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("server wrote a bad frame: %v", err)
			}
			if !jsonValid(b) {
				t.Fatalf("server wrote invalid JSON %q", b)
			}
		}
	})
}
