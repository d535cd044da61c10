package control

import (
	"context"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cordon-dev/cordon/proxy"
	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
)

// Whatever a client sends after its hello, the session neither panics nor
// hands the handler anything unchecked.
func FuzzServeConn(f *testing.F) {
	f.Add([]byte(`{"type":"approve","id":1,"host":"Example.com","port":443}` + "\n" + `{"type":"violation","violation":{"kind":"write","target":"/x"}}` + "\n"))
	f.Add([]byte(`{"type":"approve","id":2,"host":"a\u0000b","port":0}` + "\n" + `{"type":"end"}` + "\n"))
	f.Add([]byte("not json\n{\"type\":\"violation\",\"violation\":{\"kind\":\"policy\",\"target\":\"x\"}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
		ca, _ := net.FileConn(a)
		cb, _ := net.FileConn(b)
		a.Close()
		b.Close()
		defer ca.Close()
		h := &fakeHandler{answer: proxy.AllowOnce}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = serveConn(context.Background(), ca, h)
			ca.Close()
		}()
		go func() { _, _ = io.Copy(io.Discard, cb) }()
		_ = writeMessage(cb, message{Type: typeHello, Hello: &Hello{Origin: OriginCLI, Cwd: "/ws", Command: "c"}})
		_, _ = cb.Write(data)
		cb.(*net.UnixConn).CloseWrite()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("serveConn did not end within 10s of its peer's end of input: %q", data)
		}
		cb.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, q := range h.questions {
			if c, err := workspace.CanonicalHost(q.Host); err != nil || c != q.Host || q.Port < 1 || q.Port > 65535 || q.Command != "c" {
				t.Fatalf("unchecked question %+v", q)
			}
		}
		for _, v := range h.violations {
			switch v.Kind {
			case sandbox.KindWrite, sandbox.KindRead, sandbox.KindNet, sandbox.KindUnixSocket:
			default:
				t.Fatalf("unchecked violation %+v", v)
			}
			if v.Command != "c" || v.RunID != "run-7" || v.Target == "" {
				t.Fatalf("violation %+v", v)
			}
		}
	})
}
