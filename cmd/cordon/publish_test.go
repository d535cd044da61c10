//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePort is a port nothing on the host's loopback listens on now.
func freePort(t *testing.T) int { return freePorts(t, 1)[0] }

// freePorts returns n distinct free loopback ports: every listener stays
// open until all are chosen, since the kernel may hand a port just
// closed out again (two of a test's ports were once the same one).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// waitFile waits for the sandbox to make path in the workspace.
func waitFile(t *testing.T, path string, done <-chan result) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case r := <-done:
			t.Fatalf("the run ended before %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(path), r.code, r.stdout, r.stderr)
		case <-deadline:
			t.Fatalf("no %s after a minute", path)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// [network] publish: a server the sandboxed command runs on its own
// loopback is reached from the host's localhost:PORT, on 127.0.0.1 and
// ::1, for the run's lifetime. An unpublished port is not reachable from
// the host though its server answers inside (the positive control); a
// published port something on the host holds already stays that one's;
// nothing listens on a non-loopback address; and the port closes with the
// run.
func TestPublishE2E(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		ports := freePorts(t, 5)
		pub, pub6, hidden, taken, taken6 := ports[0], ports[1], ports[2], ports[3], ports[4]
		// The host's own servers: one on 127.0.0.1:taken, one on
		// [::1]:taken6. Neither port may then reach the sandbox by
		// either address (a client of the host's server resolving
		// localhost to the other one would reach the sandbox's).
		for _, a := range []string{fmt.Sprintf("127.0.0.1:%d", taken), fmt.Sprintf("[::1]:%d", taken6)} {
			hostLn, err := net.Listen("tcp", a)
			if err != nil {
				t.Fatal(err)
			}
			defer hostLn.Close()
			go http.Serve(hostLn, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "the host's own server\n") }))
		}

		e.write(".sandbox.toml", fmt.Sprintf("[network]\npublish = [\"%d\", \"%d\", \"%d\", \"%d\"]\n", pub, pub6, taken, taken6))
		e.write("www/index.html", "served from the sandbox\n")
		e.trust()
		if r := e.cordon("", "explain", "-w", e.ws); !strings.Contains(r.stdout, fmt.Sprintf("publish  sandbox :%d on the host's localhost:%d", pub, pub)) {
			t.Errorf("cordon explain does not show the published port:\n%s", r.stdout)
		}
		ready, stop := filepath.Join(e.ws, "ready"), filepath.Join(e.ws, "stop")
		// pub6 is served on ::1 only (a dev server on "localhost" may
		// take either address).
		script := fmt.Sprintf(`cd www
python3 -m http.server %[1]d --bind 127.0.0.1 >/dev/null 2>&1 &
python3 -m http.server %[2]d --bind ::1 >/dev/null 2>&1 &
python3 -m http.server %[3]d --bind 127.0.0.1 >/dev/null 2>&1 &
python3 -m http.server %[4]d --bind 127.0.0.1 >/dev/null 2>&1 &
python3 -m http.server %[5]d --bind 127.0.0.1 >/dev/null 2>&1 &
for i in $(seq 200); do
  curl -sf -m 2 http://127.0.0.1:%[1]d/ >/dev/null && curl -sf -m 2 'http://[::1]:%[2]d/' >/dev/null &&
    curl -sf -m 2 http://127.0.0.1:%[3]d/ >/dev/null && curl -sf -m 2 http://127.0.0.1:%[4]d/ >/dev/null &&
    curl -sf -m 2 http://127.0.0.1:%[5]d/ >/dev/null && break
  sleep 0.1
done
echo "inside hidden: $(curl -sS -m 2 http://127.0.0.1:%[3]d/index.html)"
touch ../ready
for i in $(seq 600); do [ -e ../stop ] && break; sleep 0.1; done
kill %%1 %%2 %%3 %%4 %%5`, pub, pub6, hidden, taken, taken6)
		done := make(chan result, 1)
		go func() { done <- e.sandboxed(script) }()
		waitFile(t, ready, done)

		for _, url := range []string{
			fmt.Sprintf("http://127.0.0.1:%d/index.html", pub),
			fmt.Sprintf("http://[::1]:%d/index.html", pub),
			fmt.Sprintf("http://localhost:%d/index.html", pub),
			fmt.Sprintf("http://127.0.0.1:%d/index.html", pub6),
		} {
			if body, err := get(url); err != nil || body != "served from the sandbox\n" {
				t.Errorf("published %s from the host: %q, %v", url, body, err)
			}
		}
		if body, err := get(fmt.Sprintf("http://127.0.0.1:%d/index.html", hidden)); err == nil {
			t.Errorf("an unpublished port answered on the host: %q", body)
		}
		if body, err := get(fmt.Sprintf("http://127.0.0.1:%d/index.html", taken)); err != nil || body != "the host's own server\n" {
			t.Errorf("a published port the host holds already: %q, %v (want the host's own server)", body, err)
		}
		if body, err := get(fmt.Sprintf("http://[::1]:%d/index.html", taken6)); err != nil || body != "the host's own server\n" {
			t.Errorf("a published port the host holds on ::1: %q, %v (want the host's own server)", body, err)
		}
		for _, url := range []string{fmt.Sprintf("http://[::1]:%d/index.html", taken), fmt.Sprintf("http://127.0.0.1:%d/index.html", taken6)} {
			if body, err := get(url); err == nil {
				t.Errorf("%s reached the sandbox though the host holds the port on its other loopback address: %q", url, body)
			}
		}
		if ip := nonLoopbackIPv4(); ip != "" {
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, fmt.Sprint(pub)), 2*time.Second); err == nil {
				c.Close()
				t.Errorf("the published port is reachable on %s, not only on loopback", ip)
			}
		}

		if err := os.WriteFile(stop, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if !strings.Contains(r.stdout, "inside hidden: served from the sandbox") {
			t.Errorf("positive control: the unpublished server did not answer inside:\n%s\n%s", r.stdout, r.stderr)
		}
		if c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", pub), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the published port outlived its run")
		}
	})
}

func nonLoopbackIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// The user story: the agent starts its dev server as a background run of
// `cordon lsp`; the user's browser reaches it on the host's localhost
// while other commands run (they find the port taken and go on), and
// sandbox/stop closes it.
func TestPublishBackgroundRun(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		port := freePort(t)
		e.write(".sandbox.toml", fmt.Sprintf("[network]\npublish = [\"%d\"]\n", port))
		e.write("www/index.html", "dev server\n")
		e.trust()
		s := e.lsp()
		var bg struct{ RunID string }
		json.Unmarshal(s.request("sandbox/run", map[string]any{
			"command":    fmt.Sprintf("cd www && exec python3 -m http.server %d --bind 127.0.0.1", port),
			"background": true,
		}), &bg)
		if bg.RunID == "" {
			t.Fatal("no runId for the background run")
		}
		url := fmt.Sprintf("http://localhost:%d/index.html", port)
		var body string
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if body, err = get(url); err == nil {
				break
			}
		}
		if err != nil || body != "dev server\n" {
			t.Fatalf("the background dev server from the host: %q, %v; stderr:\n%s", body, err, s.stderr)
		}
		var fg struct{ ExitCode int }
		json.Unmarshal(s.request("sandbox/run", map[string]any{"command": "echo meanwhile"}), &fg)
		if fg.ExitCode != 0 || !strings.Contains(s.stdout, "meanwhile\n") {
			t.Errorf("a foreground run while the port is published: exit %d, stdout %q", fg.ExitCode, s.stdout)
		}
		if body, err := get(url); err != nil || body != "dev server\n" {
			t.Errorf("after the foreground run: %q, %v", body, err)
		}
		s.request("sandbox/stop", map[string]any{"runId": bg.RunID})
		if c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the published port outlived sandbox/stop")
		}
	})
}
