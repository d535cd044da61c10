//go:build linux

package linux

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// TestDeadProxyFailsClosed: when the run's proxy dies mid-run, the
// command's next connection fails, promptly, and nothing reaches the
// network another way.
func TestDeadProxyFailsClosed(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		sockDir := filepath.Join(filepath.Dir(e.ws), "proxy")
		if err := os.Mkdir(sockDir, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(sockDir, 0o777)
		sock := filepath.Join(sockDir, "proxy.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(sock, 0o777)
		// A stand-in proxy: answers every request itself.
		var mu sync.Mutex
		var conns []net.Conn
		served := 0
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				go func() {
					if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
						return
					}
					mu.Lock()
					served++
					mu.Unlock()
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nproxied\n")
					c.Close()
				}()
			}
		}()
		kill := func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		}
		t.Cleanup(kill)

		var out bytes.Buffer
		t.Setenv(proxySocketVar, sock)
		cmd := e.launch(&out, "sh", "-c", `echo "before:$(curl -sS -m 10 http://dead.test/)"
touch proxy-dies
while ! [ -e "$HOME/dead" ]; do sleep 0.05; done
start=$(date +%s)
curl -sS -m 20 http://dead.test/ >/dev/null 2>&1; echo "after:$?"
curl -sS -m 20 --noproxy '*' http://203.0.113.1/ >/dev/null 2>&1; echo "direct:$?"
echo "seconds:$(( $(date +%s) - start ))"`)
		if !eventually(30*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(e.ws, "proxy-dies"))
			return err == nil
		}) {
			t.Fatalf("the run never got through its first request:\n%s", out.String())
		}
		kill()
		if err := os.WriteFile(filepath.Join(e.home, "dead"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := waitCmd(t, cmd); err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		got := out.String()
		// The positive control: the proxy served the first request.
		if !strings.Contains(got, "before:proxied\n") {
			t.Errorf("the first request did not go through the proxy:\n%s", got)
		}
		if strings.Contains(got, "after:0\n") || !strings.Contains(got, "after:") {
			t.Errorf("a request succeeded after the proxy died:\n%s", got)
		}
		if strings.Contains(got, "direct:0\n") || !strings.Contains(got, "direct:") {
			t.Errorf("a direct connection succeeded:\n%s", got)
		}
		if strings.Contains(got, "seconds:") && !strings.Contains(got, "seconds:0\n") && !strings.Contains(got, "seconds:1\n") &&
			!strings.Contains(got, "seconds:2\n") {
			t.Errorf("failing took too long (the connection should be refused at once, not time out):\n%s", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if served != 1 {
			t.Errorf("the proxy served %d requests, want 1", served)
		}
	})
}
