package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

func readFileTrim(p string) (string, error) {
	b, err := os.ReadFile(p)
	return strings.TrimSpace(string(b)), err
}

func symlink(target, link string) error { return os.Symlink(target, link) }

// waitGone reports whether pid stops existing (or is a zombie) within d.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
		if b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func testDirs(base string) workspace.Dirs {
	return workspace.Dirs{Home: base + "/home", ConfigDir: base + "/config", StateDir: base + "/state"}
}

func jsonValid(b []byte) bool { return json.Valid(b) }

// pipeEnds are the two ends of a connection for a server under test.
type pipeEnds struct{ client, server net.Conn }

func pipePair() (pipeEnds, pipeEnds) {
	c, s := net.Pipe()
	e := pipeEnds{client: c, server: s}
	return e, e
}

// startServerOn serves on p.server until the test ends.
func startServerOn(t *testing.T, e env, p pipeEnds, _ pipeEnds) chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, p.server, p.server, Options{Executor: fakeExec(hostExec), Backend: "fake", Dirs: e.dirs, Environ: []string{}})
		p.server.Close()
	}()
	t.Cleanup(func() {
		cancel()
		p.client.Close()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Errorf("the server did not end within %v of its cancel", waitTimeout)
		}
	})
	return done
}
