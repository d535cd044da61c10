package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// hostServer is an HTTP server on the host's loopback that counts hits.
func hostServer(t *testing.T, body string) (port int, hits *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hits = new(atomic.Int32)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, hits
}

// TestNetworkThroughTheProxy sends real traffic from inside the sandbox
// to servers on the host: only what the policy names gets through, and
// every refusal is reported.
func TestNetworkThroughTheProxy(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		allowed, allowedHits := hostServer(t, "hello-allowed")
		other, otherHits := hostServer(t, "hello-other")
		mirrored, mirroredHits := hostServer(t, "hello-mirrored")
		e.write(".sandbox.toml", fmt.Sprintf("[network]\nallow = [\"127.0.0.1:%d\", \"localhost:%d\"]\nunknown = \"deny\"\n", allowed, mirrored))
		trust := e.cordon("", "trust")
		if trust.code != 0 {
			t.Fatalf("trust: %s", trust.stderr)
		}
		r := e.cordon("", "run", "--json", "-c", fmt.Sprintf(`
echo "A:$(curl -sS -m 5 --noproxy '' -x "$HTTP_PROXY" http://127.0.0.1:%[1]d/)"
echo "B:$(curl -sS -m 5 --noproxy '' -x "$HTTP_PROXY" -o /dev/null -w '%%{http_code}' http://127.0.0.1:%[2]d/)"
echo "C:$(curl -sS -m 5 --noproxy '*' http://localhost:%[3]d/)"
echo "D:$(curl -sS -m 5 --noproxy '*' http://127.0.0.1:%[3]d/)"
echo "E:$(curl -sS -m 5 --noproxy '' -x "socks5h://$CORDON_PROXY" http://127.0.0.1:%[1]d/)"
echo "F:$(curl -sS -m 5 --noproxy '' -x "socks5h://$CORDON_PROXY" -o /dev/null http://127.0.0.1:%[2]d/ 2>&1 | head -c 40)"
echo "G:$(curl -sS -m 5 --noproxy '*' http://127.0.0.1:%[2]d/ 2>&1 | head -c 60)"
python3 -m http.server --bind 127.0.0.1 18765 >/dev/null 2>&1 &
for i in $(seq 100); do curl -s --noproxy '*' -o /dev/null http://127.0.0.1:18765/ && break; sleep 0.1; done
echo "H:$(curl -sS -m 5 --noproxy '*' -o /dev/null -w '%%{http_code}' http://127.0.0.1:18765/)"
echo "I:$(curl -sS -m 5 -o /dev/null -w '%%{http_code}' http://unknown-host.example/)"
kill $! 2>/dev/null
`, allowed, other, mirrored))
		out := r.stdout
		for _, want := range []string{"A:hello-allowed", "B:403", "C:hello-mirrored", "D:hello-mirrored", "E:hello-allowed", "H:200", "I:403"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("missing %q in:\n%s\nstderr:\n%s", want, out, r.stderr)
			}
		}
		if strings.Contains(out, "G:hello") || strings.Contains(out, "F:hello") {
			t.Errorf("a port no rule names was reached:\n%s", out)
		}
		if otherHits.Load() != 0 {
			t.Errorf("the refused server saw %d requests", otherHits.Load())
		}
		if allowedHits.Load() != 2 || mirroredHits.Load() != 2 {
			t.Errorf("allowed server hits %d (want 2), mirrored %d (want 2)", allowedHits.Load(), mirroredHits.Load())
		}
		for _, want := range []string{fmt.Sprintf(`"target":"127.0.0.1:%d"`, other), `"target":"unknown-host.example:80"`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("no violation %s in stderr:\n%s", want, r.stderr)
			}
		}
		audit, _ := os.ReadFile(e.home + "/.local/state/cordon/audit.log")
		if !strings.Contains(string(audit), `"decision":"deny"`) || !strings.Contains(string(audit), `"decision":"allow"`) {
			t.Errorf("audit log:\n%s", audit)
		}
	})
}
